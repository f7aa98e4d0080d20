"""The relational schema (SQLAlchemy Core). Instants are BIGINT microseconds since the epoch, UTC.

This module holds the one ``metadata`` and the core tables (events, meters and their rollups, API keys,
webhooks, the policy engine's state, live sessions, portal tokens, the audit log). Each other domain's
tables live in a ``schema_<domain>.py`` that registers on this metadata and is imported at the bottom:
``schema_billing`` (re-exported here), ``schema_invoicing``, ``schema_credits``, ``schema_policy``,
``schema_dashboard``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import ExactDecimal

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
SeqType = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("environment", String(16), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("ingested_at", BigInteger, nullable=False),
    UniqueConstraint("environment", "event_id", name="uq_events_env_event_id"),
    Index("ix_events_env_customer_name_ts", "environment", "customer_id", "event_name", "ts"),
    Index("ix_events_env_ts", "environment", "ts"),
    Index("ix_events_env_seq", "environment", "seq"),  # latest_seq in one probe (appended in seq order)
)

meters = Table(
    "meters",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("event_name", String(255), nullable=False),
    Column("aggregation", String(16), nullable=False),
    Column("aggregation_key", String(255)),
    Column("aggregation_params", Text),  # JSON of the registry member's extra parameters (time_weighted)
    Column("measurement_unit", String(64), nullable=False),
    Column("filter", Text),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_meters_env_event_name", "environment", "event_name"),
)

# grain: 0 = hour, 1 = day (UTC-aligned buckets; bucket = start instant in microseconds)
GRAIN_CODES = {"hour": 0, "day": 1}

# Rowid tables on SQLite on purpose: new rows append to the rowid B-tree and only the primary key's index
# takes random inserts. WITHOUT ROWID (the whole row in the primary key's B-tree) measured worse for the
# fold: with 30 days of rollups stored, 2.6x the WAL bytes and ~1.5x the write-lock time per chunk.
meter_rollups = Table(
    "meter_rollups",
    metadata,
    Column("meter_id", String(40), nullable=False),
    Column("grain", SmallInteger, nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("sum", ExactDecimal, nullable=False),
    Column("min", ExactDecimal),
    Column("max", ExactDecimal),
    Column("last_ts", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_value", ExactDecimal),
    Column("rejected", BigInteger, nullable=False),
    PrimaryKeyConstraint("meter_id", "grain", "customer_id", "bucket", name="pk_meter_rollups"),
    Index("ix_meter_rollups_meter_grain_bucket", "meter_id", "grain", "bucket"),
)

meter_distinct = Table(
    "meter_distinct",
    metadata,
    Column("meter_id", String(40), nullable=False),
    Column("grain", SmallInteger, nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("value", String(4096), nullable=False),
    PrimaryKeyConstraint("meter_id", "grain", "customer_id", "bucket", "value", name="pk_meter_distinct"),
    Index("ix_meter_distinct_meter_grain_bucket", "meter_id", "grain", "bucket"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("read_only", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)

# Webhooks: endpoints subscribe to event types; messages wait in a durable outbox until delivered.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list; empty list = every type
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", String(40), primary_key=True),  # the message id: identical on every retry (receivers dedupe on it)
    Column("environment", String(16), nullable=False),
    Column("endpoint_id", String(40), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("delivered_at", BigInteger),
    Column("failed_at", BigInteger),  # gave up after the last retry
    Column("last_error", Text),
    Index("ix_webhook_outbox_due", "delivered_at", "failed_at", "next_attempt_at"),
)

# --- policy ---
# Policy engine state (meterbase.policy.service): the active policy document per environment
# (append-only versions), each customer's plan and period anchor, per-period usage counters and
# the decisions of allow() calls made with an idempotency key (replays return them unchanged).

policy_documents = Table(
    "policy_documents",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ...; the highest is active
    Column("format", String(8), nullable=False),  # yaml | json
    Column("source", Text, nullable=False),  # the document exactly as submitted
    Column("digest", String(64), nullable=False),  # sha256 of format + source (no-op republish detection)
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "version", name="pk_policy_documents"),
)

policy_customers = Table(
    "policy_customers",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("plan", String(255), nullable=False),
    Column("anchor", BigInteger, nullable=False),  # periods repeat from this instant (microseconds)
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "customer_id", name="pk_policy_customers"),
)

# One row per (customer, entitlement, period): a new period starts a new row, so a reset can never
# be missed. period_start is 0 and period_end NULL for limits that never reset (a running total).
policy_counters = Table(
    "policy_counters",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("entitlement", String(255), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger),
    Column("credit", String(255), nullable=False),
    Column("used", ExactDecimal, nullable=False),
    Column("overage", ExactDecimal, nullable=False),  # part of `used` past a soft limit (billable)
    Column("limit_value", ExactDecimal),  # the limit when the counter last changed
    # sums of the period's allow() prices (0201): list price of billable units, the overage to bill, your cost;
    # NULL on counters from before 0201 (their overage is priced from the credit's curve instead)
    Column("price", ExactDecimal),
    Column("overage_price", ExactDecimal),
    Column("cost", ExactDecimal),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "customer_id", "entitlement", "period_start", name="pk_policy_counters"),
)

policy_allows = Table(
    "policy_allows",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("entitlement", String(255), nullable=False),
    Column("amount", String(255), nullable=False),  # the request's amount, as given (text)
    Column("decision", Text),  # JSON of the decision; NULL only inside the deciding transaction
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "idempotency_key", name="pk_policy_allows"),
)

# --- sessions ---
# Live sessions (meterbase.sessions): started, kept alive by heartbeats, stopped by the client or by the
# reaper. status: running -> stopping (claimed: the duration is fixed) -> stopped (metered). The claim is
# an UPDATE ... WHERE status = 'running', so exactly one stopper/reaper wins; metering goes through
# PolicyService.allow with the idempotency key "session:<session_id>", so a retry never meters twice.

live_sessions = Table(
    "live_sessions",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("session_id", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("entitlement", String(255), nullable=False),  # metered at stop (gpu_compute)
    Column("access_entitlement", String(255)),  # required at start (gpu_access); NULL: none
    Column("description", Text),
    Column("status", String(16), nullable=False),  # running | stopping | stopped
    Column("started_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),  # start or latest heartbeat
    Column("heartbeats", Integer, nullable=False, default=0),
    Column("stop_reason", String(16)),  # stopped (client) | reaped (no heartbeat)
    Column("claimed_at", BigInteger),  # when the stop was claimed
    Column("ended_at", BigInteger),  # the instant charged up to
    Column("seconds", BigInteger),  # billable seconds: ceil(ended_at - started_at)
    Column("amount", String(64)),  # the amount passed to allow() (fixed at claim: retries replay it)
    Column("capped_amount", String(80)),  # hard limit outran: what was left, metered instead
    Column("charged", ExactDecimal),  # consumed, in the credit's units
    Column("outcome_reason", String(32)),  # the allow() reason: ok | limit_exceeded | not_in_plan | ...
    Column("event_id", String(64)),  # the usage event recorded (None: nothing consumed)
    Column("metered_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "session_id", name="pk_live_sessions"),
    Index("ix_live_sessions_status_seen", "status", "last_seen_at"),
    Index("ix_live_sessions_env_customer", "environment", "customer_id", "status"),
)

# --- security ---
# Customer-scoped portal tokens (``mb_portal_…``): read-only bearer tokens that may only read one
# customer's usage, entitlements and invoices; like API keys only their SHA-256 digest is stored.
# The audit log records key and configuration changes, written in the transaction of the change.

portal_tokens = Table(
    "portal_tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),  # NULL: never expires
    Column("revoked_at", BigInteger),
    Index("ix_portal_tokens_env_customer", "environment", "customer_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("environment", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),  # "key_…" (API key id), "cli:<user>" or "system"
    Column("action", String(64), nullable=False),  # e.g. "api_key.created", "meter.archived"
    Column("target", String(255), nullable=False),  # id of what changed
    Column("details", Text, nullable=False),  # JSON object
    Index("ix_audit_log_env_seq", "environment", "seq"),
)

# The other tables register on this metadata from their own modules; billing's are re-exported here.
from .schema_billing import (  # noqa: E402,F401  (customers, products, subscriptions, invoices)
    billing_customers, billing_invoice_lines, billing_invoices, billing_plan_segments, billing_products,
    billing_subscriptions, billing_threshold_hits,
)
from . import schema_dashboard  # noqa: E402,F401  (dashboard tables register on this metadata)
from . import schema_credits  # noqa: E402,F401  (credits tables, on this metadata)
from . import schema_policy  # noqa: E402,F401  (policy spend caps)
from . import schema_invoicing  # noqa: E402,F401  (invoice runs, skipped periods, adjustments)
from . import schema_eventstore  # noqa: E402,F401  (the fold watermark)
