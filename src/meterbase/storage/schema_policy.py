"""Policy tables added after 0004 (the first ones live in ``schema.py``): spend-cap counters.

One row per (customer, cap, cap period): what the customer's calls were worth against one of their plan's
spend caps (``policy.document.SpendCap``) in that period. ``period_start`` is 0 and ``period_end`` NULL for a
cap that never resets. Like ``policy_counters``, a new period simply starts a new row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, PrimaryKeyConstraint, String, Table

from .schema import metadata
from .types import ExactDecimal

policy_caps = Table(
    "policy_caps",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("cap", String(255), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger),
    Column("spent", ExactDecimal, nullable=False),  # in the policy's money (runes)
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("environment", "customer_id", "cap", "period_start", name="pk_policy_caps"),
)
