"""Policy engine persistence: documents, customers, per-period counters, idempotent allow records.

Every function runs inside the caller's transaction (``Store.read()`` / ``Store.write()``); the
service in ``meterbase.policy.service`` decides what must commit together. Counter rows are locked
with :func:`lock_counter` before a read-modify-write: on SQLite the write transaction is already
``BEGIN IMMEDIATE`` (one writer at a time, across processes); on PostgreSQL the row is created if
missing (``ON CONFLICT DO NOTHING``) and then read ``FOR UPDATE``, so concurrent ``allow()`` calls on
one counter queue behind each other and each sees the previous one's committed ``used``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, text, update

from .schema import policy_allows as pa, policy_counters as pc, policy_customers as cu, policy_documents as pd
from .upsert import insert

_NAMESPACE = 0x706F  # "po": advisory-lock namespace for publishing policy documents (PostgreSQL)
ZERO = Decimal(0)


# ---------------------------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class DocumentRow:
    environment: str
    version: int
    format: str
    source: str
    digest: str
    created_at: int


def digest(source: str, fmt: str) -> str:
    return hashlib.sha256(f"{fmt}\n{source}".encode()).hexdigest()


def _doc(row) -> DocumentRow:
    return DocumentRow(row.environment, row.version, row.format, row.source, row.digest, row.created_at)


def active_version(conn, environment: str) -> int | None:
    return conn.execute(select(func.max(pd.c.version)).where(pd.c.environment == environment)).scalar()


def get_document(conn, environment: str, version: int | None = None) -> DocumentRow | None:
    """The given version, or the active (latest) one."""
    q = select(pd).where(pd.c.environment == environment)
    q = q.where(pd.c.version == version) if version is not None else q.order_by(pd.c.version.desc()).limit(1)
    row = conn.execute(q).first()
    return _doc(row) if row else None


def list_documents(conn, environment: str, limit: int = 100) -> list[DocumentRow]:
    q = select(pd).where(pd.c.environment == environment).order_by(pd.c.version.desc()).limit(limit)
    return [_doc(r) for r in conn.execute(q)]


def publish_document(conn, environment: str, source: str, fmt: str, now_us: int) -> tuple[DocumentRow, bool]:
    """Make ``source`` the active document; a no-op (``created`` False) when it already is."""
    if conn.dialect.name == "postgresql":
        key = (_NAMESPACE << 32) | zlib.crc32(environment.encode())  # one signed 64-bit key
        conn.execute(text("SELECT pg_advisory_xact_lock(CAST(:k AS bigint))"), {"k": key})
    current = get_document(conn, environment)
    dg = digest(source, fmt)
    if current is not None and current.digest == dg:
        return current, False
    version = 1 if current is None else current.version + 1
    conn.execute(
        pd.insert().values(environment=environment, version=version, format=fmt, source=source, digest=dg, created_at=now_us)
    )
    return DocumentRow(environment, version, fmt, source, dg, now_us), True


# ---------------------------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    plan: str
    anchor: int
    created_at: int
    updated_at: int


def get_customer(conn, environment: str, customer_id: str) -> CustomerRow | None:
    row = conn.execute(
        select(cu.c.customer_id, cu.c.plan, cu.c.anchor, cu.c.created_at, cu.c.updated_at).where(
            cu.c.environment == environment, cu.c.customer_id == customer_id
        )
    ).first()
    return CustomerRow(*row) if row else None


def insert_customer(conn, environment: str, customer_id: str, plan: str, anchor: int, now_us: int) -> bool:
    """Create the customer unless it exists (then nothing changes). Returns whether it was created."""
    stmt = (
        insert(conn, cu)
        .values(environment=environment, customer_id=customer_id, plan=plan, anchor=anchor, created_at=now_us, updated_at=now_us)
        .on_conflict_do_nothing(index_elements=["environment", "customer_id"])
        .returning(cu.c.customer_id)
    )
    return conn.execute(stmt).first() is not None


def update_customer(conn, environment: str, customer_id: str, now_us: int, *, plan: str, anchor: int | None = None) -> None:
    values: dict = {"plan": plan, "updated_at": now_us}
    if anchor is not None:
        values["anchor"] = anchor
    conn.execute(update(cu).where(cu.c.environment == environment, cu.c.customer_id == customer_id).values(**values))


# ---------------------------------------------------------------------------------------------- counters


@dataclass(frozen=True)
class CounterRow:
    customer_id: str
    entitlement: str
    period_start: int
    period_end: int | None
    credit: str
    used: Decimal
    overage: Decimal
    limit_value: Decimal | None


_COUNTER_COLS = (pc.c.customer_id, pc.c.entitlement, pc.c.period_start, pc.c.period_end, pc.c.credit, pc.c.used, pc.c.overage, pc.c.limit_value)


def _key(environment: str, customer_id: str, entitlement: str, period_start: int):
    return (
        pc.c.environment == environment,
        pc.c.customer_id == customer_id,
        pc.c.entitlement == entitlement,
        pc.c.period_start == period_start,
    )


def get_counter(conn, environment: str, customer_id: str, entitlement: str, period_start: int) -> CounterRow | None:
    row = conn.execute(select(*_COUNTER_COLS).where(*_key(environment, customer_id, entitlement, period_start))).first()
    return CounterRow(*row) if row else None


def lock_counter(
    conn, environment: str, customer_id: str, entitlement: str, period_start: int, period_end: int | None,
    credit: str, limit_value: Decimal | None, now_us: int,
) -> tuple[CounterRow, bool]:
    """Create the period's counter if missing, then read it locked. Returns ``(row, created)``."""
    stmt = (
        insert(conn, pc)
        .values(
            environment=environment, customer_id=customer_id, entitlement=entitlement, period_start=period_start,
            period_end=period_end, credit=credit, used=ZERO, overage=ZERO, limit_value=limit_value,
            created_at=now_us, updated_at=now_us,
        )
        .on_conflict_do_nothing(index_elements=["environment", "customer_id", "entitlement", "period_start"])
        .returning(pc.c.period_start)
    )
    created = conn.execute(stmt).first() is not None
    q = select(*_COUNTER_COLS).where(*_key(environment, customer_id, entitlement, period_start)).with_for_update()
    return CounterRow(*conn.execute(q).one()), created


def previous_counter(conn, environment: str, customer_id: str, entitlement: str, before: int) -> CounterRow | None:
    """The latest counter of an earlier period (the period a reset closes)."""
    q = (
        select(*_COUNTER_COLS)
        .where(pc.c.environment == environment, pc.c.customer_id == customer_id, pc.c.entitlement == entitlement, pc.c.period_start < before)
        .order_by(pc.c.period_start.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return CounterRow(*row) if row else None


def set_counter(
    conn, environment: str, customer_id: str, entitlement: str, period_start: int, *,
    used: Decimal, overage: Decimal, limit_value: Decimal | None, now_us: int,
) -> None:
    """Write the new totals of a counter locked by :func:`lock_counter` in this transaction."""
    conn.execute(
        update(pc)
        .where(*_key(environment, customer_id, entitlement, period_start))
        .values(used=used, overage=overage, limit_value=limit_value, updated_at=now_us)
    )


def counters_between(conn, environment: str, customer_id: str, start: int, end: int) -> list[CounterRow]:
    """Counters of ``customer_id`` whose period starts in ``[start, end)`` (running totals: start 0)."""
    q = (
        select(*_COUNTER_COLS)
        .where(pc.c.environment == environment, pc.c.customer_id == customer_id, pc.c.period_start >= start, pc.c.period_start < end)
        .order_by(pc.c.entitlement, pc.c.period_start)
    )
    return [CounterRow(*r) for r in conn.execute(q)]


# ---------------------------------------------------------------------------------------------- idempotency


@dataclass(frozen=True)
class AllowRecord:
    customer_id: str
    entitlement: str
    amount: str
    decision: str | None


def claim_allow(conn, environment: str, key: str, customer_id: str, entitlement: str, amount: str, now_us: int) -> AllowRecord | None:
    """Claim an idempotency key for this transaction. Returns None when claimed, else the earlier record.

    On PostgreSQL a concurrent claim of the same key waits here until the first transaction ends, then
    sees its committed record (or claims the key itself if the first rolled back).
    """
    stmt = (
        insert(conn, pa)
        .values(environment=environment, idempotency_key=key, customer_id=customer_id, entitlement=entitlement,
                amount=amount, decision=None, created_at=now_us)
        .on_conflict_do_nothing(index_elements=["environment", "idempotency_key"])
        .returning(pa.c.idempotency_key)
    )
    if conn.execute(stmt).first() is not None:
        return None
    row = conn.execute(
        select(pa.c.customer_id, pa.c.entitlement, pa.c.amount, pa.c.decision).where(
            pa.c.environment == environment, pa.c.idempotency_key == key
        )
    ).one()
    return AllowRecord(*row)


def finish_allow(conn, environment: str, key: str, decision_json: str) -> None:
    conn.execute(update(pa).where(pa.c.environment == environment, pa.c.idempotency_key == key).values(decision=decision_json))
