"""Invoicing tables added after 0003 (the first ones live in ``schema_billing.py``): invoice runs, the periods
a run could not price (skipped, "needs attention" until priced), and carry-forward adjustments.

* ``billing_runs`` -- one row per invoice run and environment: what it was asked and what it did.
* ``billing_run_skips`` -- each period (or late-usage check) a run could not price, with the meter,
  value and reason (``pricing.quantity.UnbillableQuantity``). ``resolved_at`` is set once a later run
  or finalization prices that period; until then it is listed as needing attention.
* ``billing_adjustments`` -- late usage of a finalized period, per meter: the quantities it covers
  (``covers``: JSON list of each usage line's quantity, exact text), the difference billed
  (``amount``; negative: a credit) and the invoice that carries it (``invoice_id``: NULL while pending,
  then the draft that carries it, frozen with it at finalization). ``version`` numbers the adjustments
  of one (subscription, period, meter); its uniqueness makes concurrent runs record an adjustment once.

Also ``grace_period_hours`` on ``billing_products`` and ``billing_subscriptions`` (``schema_billing.py``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text, UniqueConstraint

from .schema import metadata
from .types import ExactDecimal

billing_runs = Table(
    "billing_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("until", BigInteger, nullable=False),
    Column("finalize", String(16), nullable=False),  # "no" | "past_grace" | "now"
    Column("lookback_days", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("created", Integer, nullable=False),
    Column("existing", Integer, nullable=False),
    Column("finalized", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("adjustments", Integer, nullable=False),
    Column("actor", String(255), nullable=False),
    Index("ix_billing_runs_env_started", "environment", "started_at"),
)

billing_run_skips = Table(
    "billing_run_skips",
    metadata,
    Column("run_id", String(40), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # "invoice" (the period itself) | "adjustment" (its late usage)
    Column("meter_id", String(40)),
    Column("value", Text),  # the metered value no price could take, exact text
    Column("reason", String(32), nullable=False),  # negative | too_large | not_a_number
    Column("message", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    PrimaryKeyConstraint("run_id", "subscription_id", "period_start", "kind", name="pk_billing_run_skips"),
    Index("ix_billing_run_skips_open", "environment", "resolved_at"),
    Index("ix_billing_run_skips_sub", "subscription_id", "period_start"),
)

billing_adjustments = Table(
    "billing_adjustments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("period_start", BigInteger, nullable=False),  # the finalized period the late usage belongs to
    Column("period_end", BigInteger, nullable=False),
    Column("meter_id", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # the meter's place among the period's usage lines
    Column("product_id", String(40), nullable=False),
    Column("description", Text, nullable=False),
    Column("adjusts_invoice_id", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("covers", Text, nullable=False),
    Column("quantity_before", ExactDecimal, nullable=False),
    Column("quantity_after", ExactDecimal, nullable=False),
    Column("free_units", ExactDecimal, nullable=False),
    Column("billable_units", ExactDecimal, nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("invoice_id", String(40)),  # the invoice that carries it; NULL: pending
    UniqueConstraint("subscription_id", "period_start", "meter_id", "version", name="uq_billing_adjustments_version"),
    Index("ix_billing_adjustments_env_sub", "environment", "subscription_id"),
    Index("ix_billing_adjustments_invoice", "invoice_id"),
)
