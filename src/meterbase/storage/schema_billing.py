"""Billing tables (the first ones, migration 0003): customers, products (plans), subscriptions with their
plan segments, invoices with frozen lines, and the usage-threshold hits that bill early.

Amounts are exact decimals (``ExactDecimal``) in major units of the row's currency; instants are BIGINT
microseconds since the epoch, UTC. Later billing tables (invoice runs, skipped periods, adjustments) are in
``schema_invoicing.py``. The tables register on :data:`meterbase.storage.schema.metadata`; ``schema.py``
re-exports them, so ``from meterbase.storage.schema import billing_invoices`` keeps working.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text, UniqueConstraint,
)

from .schema import metadata
from .types import ExactDecimal


billing_customers = Table(
    "billing_customers",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("id", String(255), nullable=False),  # the customer_id events carry
    Column("email", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("phone_number", String(64)),
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "id", name="pk_billing_customers"),
    Index("ix_billing_customers_env_created", "environment", "created_at"),
)

billing_products = Table(
    "billing_products",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("currency", String(3), nullable=False),
    Column("fixed_fee", ExactDecimal, nullable=False),
    Column("interval", String(8), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("lines", Text, nullable=False),  # JSON: [{"meter_id", "price": {...}, "description"}]
    Column("credits", Text),  # JSON: credit entitlements the product issues per cycle (billing.credit_links); NULL: none
    Column("tax_category", String(32)),
    Column("metadata", Text, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("grace_period_hours", Integer),  # NULL: the default (billing.grace); added by 0601
    Index("ix_billing_products_env_created", "environment", "created_at"),
)

billing_subscriptions = Table(
    "billing_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("product_id", String(40), nullable=False),  # the plan in force now (latest segment)
    Column("quantity", Integer, nullable=False),
    Column("interval", String(8), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("start_at", BigInteger, nullable=False),
    Column("anchor_at", BigInteger, nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    Column("ends_at", BigInteger),  # no period starts at or after this instant
    Column("thresholds", Text, nullable=False),  # JSON list of usage thresholds
    Column("billing", Text, nullable=False),  # JSON billing address (Dodo)
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("grace_period_hours", Integer),  # NULL: the product's; added by 0601
    Index("ix_billing_subscriptions_env_customer", "environment", "customer_id"),
    Index("ix_billing_subscriptions_env_created", "environment", "created_at"),
)

billing_plan_segments = Table(
    "billing_plan_segments",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("product_id", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    PrimaryKeyConstraint("subscription_id", "effective_at", name="pk_billing_plan_segments"),
)

billing_invoices = Table(
    "billing_invoices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # draft | finalized | void
    Column("currency", String(3), nullable=False),
    Column("subtotal", ExactDecimal, nullable=False),
    Column("total", ExactDecimal, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finalized_at", BigInteger),
    Column("voided_at", BigInteger),
    UniqueConstraint("subscription_id", "period_start", name="uq_billing_invoices_sub_period"),
    Index("ix_billing_invoices_env_customer", "environment", "customer_id"),
    Index("ix_billing_invoices_env_created", "environment", "created_at"),
)

billing_invoice_lines = Table(
    "billing_invoice_lines",
    metadata,
    Column("invoice_id", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("product_id", String(40), nullable=False),
    Column("meter_id", String(40)),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("free_units", ExactDecimal, nullable=False),
    Column("billable_units", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal),
    Column("amount", ExactDecimal, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: model, tiers/packages breakdown, exact amounts
    PrimaryKeyConstraint("invoice_id", "position", name="pk_billing_invoice_lines"),
)

billing_threshold_hits = Table(
    "billing_threshold_hits",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("threshold", String(300), nullable=False),
    Column("hit_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("subscription_id", "period_start", "threshold", name="pk_billing_threshold_hits"),
)
