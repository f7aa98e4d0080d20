"""The relational schema (SQLAlchemy Core). Instants are BIGINT microseconds since the epoch, UTC."""

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
    Index("ix_events_env_name_ts", "environment", "event_name", "ts"),
    Index("ix_events_env_customer_name_ts", "environment", "customer_id", "event_name", "ts"),
    Index("ix_events_env_ts", "environment", "ts"),
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
    Column("measurement_unit", String(64), nullable=False),
    Column("filter", Text),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_meters_env_event_name", "environment", "event_name"),
)

# grain: 0 = hour, 1 = day (UTC-aligned buckets; bucket = start instant in microseconds)
GRAIN_CODES = {"hour": 0, "day": 1}

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
