"""Tables of the credits domain (``meterbase.credits``): entitlements, balances, grants, the ledger,
customer wallets and their ledger. Defined on ``schema.metadata`` (imported at the bottom of ``schema.py``).

Amounts are exact decimals (``ExactDecimal``) in the entitlement's units; wallet amounts are integers in
the currency's minor unit, like Dodo's. Instants are BIGINT microseconds since the epoch, UTC.

``credit_balances`` holds one row per (environment, entitlement, customer): the balance and overage the
ledger sums to, locked (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) by every
change. ``next_event_at`` is the next expiry or cycle end, so reads know when to settle and the sweep
finds due balances through an index. Ledger and wallet entries carry the client's idempotency key,
unique per environment (settlement entries use ``sys:…`` keys of their own).

``credit_accruals`` holds, per balance and *source* (``policy``: the money ``allow()`` drew; ``meter:<id>``:
a meter paid with credits), the exact quantity accrued (``total``, in money or meter units, since ``divisor``
— money or units per credit — was last set) and the credits deducted for it: a deduction is the whole
quanta the running total crosses (``credits.accrual``), so nothing finer than the precision is lost.

``credit_feed`` is the durable watermark of metered deductions (``credits.metered``): per environment, the seq
of the last event whose credits were deducted, advanced in the transaction that deducts them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, SmallInteger, String, Table, \
    Text, UniqueConstraint, false

from .schema import SeqType, metadata
from .types import ExactDecimal

credit_entitlements = Table(
    "credit_entitlements",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("unit", String(64), nullable=False),
    Column("precision", SmallInteger, nullable=False),
    Column("currency", String(3)),
    Column("price_per_unit", ExactDecimal),  # major units of currency, per credit
    Column("expires_after_days", Integer),
    Column("rollover_enabled", Boolean, nullable=False),
    Column("rollover_percentage", SmallInteger),
    Column("rollover_timeframe_count", Integer),
    Column("rollover_timeframe_interval", String(8)),
    Column("max_rollover_count", Integer),
    Column("overage_enabled", Boolean, nullable=False),
    Column("overage_limit", ExactDecimal),
    Column("overage_behavior", String(32), nullable=False),
    Column("low_balance_threshold_percent", SmallInteger),
    Column("covers_policy_usage", Boolean, nullable=False, server_default=false()),  # pays for allow()'s usage
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    Index("ix_credit_entitlements_env_created", "environment", "created_at"),
)

credit_balances = Table(
    "credit_balances",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(16), nullable=False),
    Column("entitlement_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("balance", ExactDecimal, nullable=False),
    Column("overage", ExactDecimal, nullable=False),
    Column("threshold_base", ExactDecimal),  # balance after the last credit (low-balance alerts)
    Column("schedule", Text),  # JSON {anchor, unit, count, credits_per_cycle, source_id}; NULL: no cycles
    Column("settled_until", BigInteger),  # last cycle boundary settled
    Column("issued_cycle", BigInteger),  # start of the last cycle whose credits were issued
    Column("next_event_at", BigInteger),  # next expiry / cycle end; NULL: nothing scheduled
    Column("last_transaction_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("environment", "entitlement_id", "customer_id", name="uq_credit_balances_key"),
    Index("ix_credit_balances_next_event", "next_event_at"),
    Index("ix_credit_balances_env_customer", "environment", "customer_id"),
)

credit_grants = Table(
    "credit_grants",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("balance_id", String(40), nullable=False),
    Column("initial_amount", ExactDecimal, nullable=False),
    Column("remaining_amount", ExactDecimal, nullable=False),
    Column("source_type", String(16), nullable=False),  # subscription | one_time | addon | api | rollover
    Column("source_id", String(255)),
    Column("parent_grant_id", String(40)),
    Column("rollover_count", Integer, nullable=False),
    Column("expires_at", BigInteger),
    Column("cycle_end", BigInteger),  # cycle-bound grants are settled (rollover/expiry) at this instant
    Column("closed", String(16)),  # NULL | expired | forfeited | rolled_over
    Column("closed_at", BigInteger),
    Column("is_open", Boolean, nullable=False),  # not closed and remaining > 0 (spendable)
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_credit_grants_balance_open", "balance_id", "is_open", "seq"),
)

credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("environment", String(16), nullable=False),
    Column("balance_id", String(40), nullable=False),
    Column("entitlement_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("transaction_type", String(32), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("is_credit", Boolean, nullable=False),
    Column("balance_before", ExactDecimal, nullable=False),
    Column("balance_after", ExactDecimal, nullable=False),
    Column("overage_before", ExactDecimal, nullable=False),
    Column("overage_after", ExactDecimal, nullable=False),
    Column("grant_id", String(40)),
    Column("allocations", Text, nullable=False),  # JSON [[grant_id, amount], ...]
    Column("reason", Text),
    Column("metadata", Text, nullable=False),
    Column("period_start", BigInteger),  # overage entries: the cycle they settle
    Column("period_end", BigInteger),
    Column("unit_price", ExactDecimal),  # overage_charged: price per credit, major units
    Column("currency", String(3)),
    Column("reference_type", String(32)),
    Column("reference_id", String(255)),
    Column("idempotency_key", String(255)),
    Column("fingerprint", String(64)),  # of the request an idempotency key stands for
    Column("created_at", BigInteger, nullable=False),  # when it took effect (an expiry: the expiry instant)
    Column("recorded_at", BigInteger, nullable=False),  # when it was written
    UniqueConstraint("environment", "idempotency_key", name="uq_credit_ledger_idempotency"),
    Index("ix_credit_ledger_balance_seq", "balance_id", "seq"),
    Index("ix_credit_ledger_env_customer_type", "environment", "customer_id", "transaction_type", "created_at"),
)

customer_wallets = Table(
    "customer_wallets",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance", BigInteger, nullable=False),  # minor units
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "customer_id", "currency", name="pk_customer_wallets"),
)

wallet_ledger = Table(
    "wallet_ledger",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("is_credit", Boolean, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("before_balance", BigInteger, nullable=False),
    Column("after_balance", BigInteger, nullable=False),
    Column("reason", Text),
    Column("reference_object_id", String(255)),
    Column("idempotency_key", String(255)),
    Column("fingerprint", String(64)),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("environment", "idempotency_key", name="uq_wallet_ledger_idempotency"),
    Index("ix_wallet_ledger_env_customer_seq", "environment", "customer_id", "seq"),
)

credit_accruals = Table(
    "credit_accruals",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("entitlement_id", String(40), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("source", String(64), nullable=False),  # "policy" | "meter:<meter_id>"
    Column("divisor", ExactDecimal, nullable=False),  # money (policy) or meter units per credit
    Column("total", ExactDecimal, nullable=False),  # exact quantity accrued since divisor was set
    Column("deducted", ExactDecimal, nullable=False),  # credits deducted for this source, all time
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "entitlement_id", "customer_id", "source", name="pk_credit_accruals"),
)

credit_feed = Table(
    "credit_feed",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),  # every event up to it has deducted its credits
    Column("updated_at", BigInteger, nullable=False),
)
