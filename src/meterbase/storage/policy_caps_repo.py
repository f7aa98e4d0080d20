"""Spend-cap counters of the policy engine (``policy_caps``): read, lock, write.

Every function runs inside the caller's transaction. ``allow()`` locks the entitlement's counter first
(:func:`policy_repo.lock_counter`), then the caps it moves with :func:`lock_caps`, always in name order, so two
calls sharing a cap queue on it and cannot deadlock (no transaction takes a counter after a cap). On SQLite the
write transaction is already exclusive; on PostgreSQL missing rows are created first (``ON CONFLICT DO
NOTHING``) and every row is read ``FOR UPDATE``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import bindparam, select, tuple_, update

from .policy_repo import _per_dialect
from .schema_policy import policy_caps as pk
from .upsert import insert

ZERO = Decimal(0)
CapKey = tuple[str, int]
"""(cap name, cap period start in µs; 0 for a cap that never resets)."""

_SPENT = select(pk.c.cap, pk.c.period_start, pk.c.spent).where(
    pk.c.environment == bindparam("env"), pk.c.customer_id == bindparam("customer"),
    tuple_(pk.c.cap, pk.c.period_start).in_(bindparam("keys", expanding=True)),
)
_LOCK = _SPENT.order_by(pk.c.cap).with_for_update()
_SET = update(pk).where(
    pk.c.environment == bindparam("env"), pk.c.customer_id == bindparam("customer"), pk.c.cap == bindparam("k_cap"),
    pk.c.period_start == bindparam("k_start"),
).values(spent=bindparam("b_spent", type_=pk.c.spent.type), updated_at=bindparam("b_now"))


def _insert_cap(conn):
    return (
        insert(conn, pk)
        .values(environment=bindparam("env"), customer_id=bindparam("customer"), cap=bindparam("k_cap"),
                period_start=bindparam("k_start"), period_end=bindparam("b_end"),
                spent=bindparam("b_zero", type_=pk.c.spent.type), created_at=bindparam("b_now"),
                updated_at=bindparam("b_now"))
        .on_conflict_do_nothing(index_elements=["environment", "customer_id", "cap", "period_start"])
    )


def read_caps(conn, environment: str, customer_id: str, keys: list[CapKey]) -> dict[CapKey, Decimal]:
    """What was spent against each ``(cap, period_start)`` (0 for a cap period with no row yet)."""
    if not keys:
        return {}
    rows = conn.execute(_SPENT, {"env": environment, "customer": customer_id, "keys": keys})
    found = {(cap, start): spent for cap, start, spent in rows}
    return {key: found.get(key, ZERO) for key in keys}


def lock_caps(conn, environment: str, customer_id: str, periods: dict[CapKey, int | None], now_us: int) -> dict[CapKey, Decimal]:
    """Read the cap counters of ``periods`` (``(cap, start) -> period end``) locked, creating missing rows."""
    if not periods:
        return {}
    keys = sorted(periods)
    params = {"env": environment, "customer": customer_id, "keys": keys}
    found = {(cap, start): spent for cap, start, spent in conn.execute(_LOCK, params)}
    missing = [key for key in keys if key not in found]
    if missing:
        conn.execute(_per_dialect(conn, _insert_cap), [
            {"env": environment, "customer": customer_id, "k_cap": cap, "k_start": start, "b_end": periods[(cap, start)],
             "b_zero": ZERO, "b_now": now_us} for cap, start in missing
        ])
        found.update({(cap, start): spent for cap, start, spent in conn.execute(_LOCK, params)})
    return {key: found[key] for key in keys}


def set_caps(conn, environment: str, customer_id: str, spent: dict[CapKey, Decimal], now_us: int) -> None:
    """Write the new spending of caps locked by :func:`lock_caps` in this transaction."""
    if spent:
        conn.execute(_SET, [{"env": environment, "customer": customer_id, "k_cap": cap, "k_start": start,
                             "b_spent": value, "b_now": now_us} for (cap, start), value in spent.items()])
