"""Demo dataset: a few customers, the seeds' meters and ~45 days of realistic usage.

Deterministic (seeded RNG, fixed event ids), so seeding twice changes nothing.
"""

from __future__ import annotations

import random
from datetime import timedelta

from .credits.demo import seed_credits
from .storage import Store
from .timeutil import from_us, iso, to_us

ENV = "test_mode"
CUSTOMERS = ["cus_acme", "cus_globex", "cus_initech", "cus_umbrella", "cus_hooli"]
METERS = [
    {"name": "API Requests", "event_name": "api.call", "aggregation": {"type": "count"}, "measurement_unit": "calls"},
    {"name": "Token Usage", "event_name": "ai.tokens", "aggregation": {"type": "sum", "key": "tokens"}, "measurement_unit": "tokens"},
    {"name": "Images Generated", "event_name": "image.generated", "aggregation": {"type": "count"}, "measurement_unit": "images"},
    {"name": "Storage Used", "event_name": "storage.snapshot", "aggregation": {"type": "last", "key": "bytes"}, "measurement_unit": "bytes"},
    {"name": "Premium successful calls", "event_name": "api.call", "aggregation": {"type": "count"}, "measurement_unit": "calls",
     "filter": {"conjunction": "and", "clauses": [{"key": "tier", "operator": "equals", "value": "premium"},
                                                   {"key": "status", "operator": "equals", "value": "success"}]}},
]


def _events(now_us: int, days: int, rng: random.Random):
    end = from_us(now_us).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    for ci, cust in enumerate(CUSTOMERS):
        scale = 1 + ci
        t, i = start, 0
        while t < end:
            for _ in range(rng.randint(0, 3 * scale)):
                ts = t + timedelta(seconds=rng.randint(0, 3599))
                i += 1
                yield {"event_id": f"demo_{cust}_api_{i}", "customer_id": cust, "event_name": "api.call", "timestamp": iso(ts),
                       "metadata": {"endpoint": rng.choice(["/v1/users", "/v1/orders", "/v1/generate"]),
                                    "method": rng.choice(["GET", "POST"]), "tier": rng.choice(["free", "premium"]),
                                    "status": rng.choice(["success"] * 9 + ["error"])}}
            if rng.random() < 0.5:
                i += 1
                yield {"event_id": f"demo_{cust}_tok_{i}", "customer_id": cust, "event_name": "ai.tokens", "timestamp": iso(t),
                       "metadata": {"tokens": str(rng.randint(100, 4000)), "model": rng.choice(["gpt-4", "claude-3"])}}
            if rng.random() < 0.1:
                i += 1
                yield {"event_id": f"demo_{cust}_img_{i}", "customer_id": cust, "event_name": "image.generated",
                       "timestamp": iso(t), "metadata": {"size": "1024x1024", "model": "dall-e-3"}}
            if t.hour == 0:
                i += 1
                yield {"event_id": f"demo_{cust}_sto_{i}", "customer_id": cust, "event_name": "storage.snapshot",
                       "timestamp": iso(t), "metadata": {"bytes": str(scale * 1_000_000_000 + t.day * 10_000_000)}}
            t += timedelta(hours=1)


def seed(store: Store, days: int = 45, seed_value: int = 7) -> dict:
    """Create the demo meters (once) and ingest the demo events (idempotent)."""
    existing = {m.spec.name for m in store.list_meters(ENV, None, limit=1000)}
    for spec in METERS:
        if spec["name"] not in existing:
            store.create_meter(ENV, spec)
    now = store.now()
    # anchor the data on the hour so re-seeding within the hour reuses the same ids/timestamps
    batch, ingested = [], 0
    for ev in _events(now - now % 3_600_000_000, days, random.Random(seed_value)):
        batch.append(ev)
        if len(batch) == 1000:
            ingested += store.ingest(ENV, batch).ingested
            batch = []
    if batch:
        ingested += store.ingest(ENV, batch).ingested
    seed_credits(store, CUSTOMERS)  # prepaid credits and wallets (meterbase.credits)
    return {"ingested": ingested, "meters": len(METERS), "customers": len(CUSTOMERS), "to": to_us(from_us(now))}
