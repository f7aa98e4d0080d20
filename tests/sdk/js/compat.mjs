// Sends Time Range and Stream blueprint events to a meterbase server with the official
// `dodopayments` TypeScript SDK, constructed with `baseURL` pointing at meterbase. Two paths:
//
//  "sdk"      events built exactly like @dodopayments/ingestion-blueprints@0.6.1 builds them
//             (Ingestion.track + trackTimeRange / trackStreamBytes from its dist/index.js, copied
//             below) and sent in one batch with client.usageEvents.ingest(): the supported way.
//  "package"  the published blueprint functions themselves. As published they cannot target
//             meterbase: their Ingestion always passes `environment` to the SDK, and the SDK refuses
//             `environment` together with DODO_PAYMENTS_BASE_URL ("Ambiguous URL"; checked below).
//             Here the SDK instance inside their Ingestion (a private field) is swapped for one
//             pointed at meterbase, so the package's own code builds and sends the events.
//
// Env: MB_URL, MB_API_KEY, RUN (suffix for customer ids). Prints a JSON summary on stdout.
import DodoPayments from 'dodopayments';
import { Ingestion, trackStreamBytes, trackTimeRange } from '@dodopayments/ingestion-blueprints';

const { MB_URL, MB_API_KEY, RUN } = process.env;
const client = new DodoPayments({ bearerToken: MB_API_KEY, baseURL: MB_URL, maxRetries: 0 });

// ---- copied from @dodopayments/ingestion-blueprints 0.6.1 (dist/index.js) -------------------
function generateEventId(eventName) {
  const timestamp = Date.now();
  const random = Math.random().toString(36).substring(2, 8);
  return `${eventName}_${timestamp}_${random}`;
}

function trackEvent(eventName, event) { // Ingestion.track
  return {
    event_id: generateEventId(eventName),
    customer_id: event.customerId,
    event_name: eventName,
    timestamp: new Date().toISOString(),
    metadata: event.metadata || {},
  };
}

function timeRangeEvent(eventName, options) { // trackTimeRange
  return trackEvent(eventName, {
    customerId: options.customerId,
    metadata: {
      ...(options.durationMs !== undefined && { durationMs: options.durationMs }),
      ...(options.durationSeconds !== undefined && { durationSeconds: options.durationSeconds }),
      ...(options.durationMinutes !== undefined && { durationMinutes: options.durationMinutes }),
      ...options.metadata,
    },
  });
}

function streamBytesEvent(eventName, options) { // trackStreamBytes
  return trackEvent(eventName, {
    customerId: options.customerId,
    metadata: {
      ...(options.bytes !== undefined && { bytes: options.bytes }),
      ...options.metadata,
    },
  });
}
// -------------------------------------------------------------------------------------------

const TIME = 'time_range_usage';
const STREAM = 'stream_consumption';

function timeRanges(customerId) {
  return [
    { customerId, durationMs: 1500, metadata: { function_name: 'image-processor', memory_mb: 512 } },
    { customerId, durationSeconds: 120 },
    { customerId, durationMinutes: 60 },
  ];
}

function streams(customerId) {
  return [
    { customerId, bytes: 10485760, metadata: { stream_type: 'video' } },
    { customerId, bytes: 524288, metadata: { stream_type: 'audio', quality: 'hd' } },
  ];
}

const summary = {};

// 1. The official SDK with baseURL -> meterbase, blueprint-shaped events.
const sdkCustomer = `cus_ts_sdk_${RUN}`;
const events = [
  ...timeRanges(sdkCustomer).map((o) => timeRangeEvent(TIME, o)),
  ...streams(sdkCustomer).map((o) => streamBytesEvent(STREAM, o)),
];
const reply = await client.usageEvents.ingest({ events });
const replay = await client.usageEvents.ingest({ events }); // retried batch: idempotent
summary.sdk = { ingested_count: reply.ingested_count, replay_ingested_count: replay.ingested_count,
                event_ids: events.map((e) => e.event_id) };
summary.sdk_events = events;

// 2. The published package: redirecting it by environment variable is refused by the SDK...
process.env.DODO_PAYMENTS_BASE_URL = MB_URL;
try {
  new Ingestion({ apiKey: MB_API_KEY, environment: 'test_mode', eventName: TIME });
  summary.ambiguous = null;
} catch (err) {
  summary.ambiguous = String(err.message);
}
delete process.env.DODO_PAYMENTS_BASE_URL;

// ...so swap the SDK instance its Ingestion holds (Ingestion.client is a DodoClient, whose
// .client is the DodoPayments instance) and let the package's own functions run unchanged.
const pkgCustomer = `cus_ts_package_${RUN}`;
const timeIngestion = new Ingestion({ apiKey: MB_API_KEY, environment: 'test_mode', eventName: TIME });
const streamIngestion = new Ingestion({ apiKey: MB_API_KEY, environment: 'test_mode', eventName: STREAM });
for (const ingestion of [timeIngestion, streamIngestion]) {
  if (!(ingestion.client && ingestion.client.client instanceof DodoPayments)) {
    throw new Error('unexpected @dodopayments/ingestion-blueprints internals');
  }
  ingestion.client.client = client;
}
for (const options of timeRanges(pkgCustomer)) await trackTimeRange(timeIngestion, options);
for (const options of streams(pkgCustomer)) await trackStreamBytes(streamIngestion, options);
summary.package = { sent: 5 };

console.log(JSON.stringify(summary));
