"""Policy engine persistence: documents, customers, per-period counters, idempotent allow records.

Every function runs inside the caller's transaction (``Store.read()`` / ``Store.write()``); the
service in ``meterbase.policy.service`` decides what must commit together. Counter rows are locked
with :func:`lock_counter` before a read-modify-write: on SQLite the write transaction is already
``BEGIN IMMEDIATE`` (one writer at a time, across processes); on PostgreSQL the row is read ``FOR
UPDATE`` (created first with ``ON CONFLICT DO NOTHING`` when missing), so concurrent ``allow()`` calls
on one counter queue behind each other and each sees the previous one's committed ``used``.

Statements are built once with bind parameters (building a SQLAlchemy statement costs more than
running it), and :func:`read_state` answers all of a decision's reads in one round trip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, NamedTuple

from sqlalchemy import and_, bindparam, func, literal_column, select, true, update

from . import dialect
from .schema import policy_allows as pa, policy_counters as pc, policy_customers as cu, policy_documents as pd
from .schema import webhook_endpoints as we
from .upsert import insert

_NAMESPACE = 0x706F  # "po": advisory-lock namespace for publishing policy documents (PostgreSQL)
ZERO = Decimal(0)

_ENV, _CUSTOMER, _ENTITLEMENT = bindparam("env"), bindparam("k_customer"), bindparam("k_entitlement")
_PER_DIALECT: dict[tuple[str, str], object] = {}


def _per_dialect(conn, build: Callable):
    """``build(conn)``'s statement for the connection's backend (INSERT … ON CONFLICT differs), built once."""
    key = (conn.dialect.name, build.__name__)
    stmt = _PER_DIALECT.get(key)
    if stmt is None:
        stmt = _PER_DIALECT[key] = build(conn)
    return stmt


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


_ACTIVE_DOCUMENT = select(pd).where(pd.c.environment == _ENV).order_by(pd.c.version.desc()).limit(1)
_DOCUMENT = select(pd).where(pd.c.environment == _ENV, pd.c.version == bindparam("version"))
_DOCUMENTS = select(pd).where(pd.c.environment == _ENV).order_by(pd.c.version.desc()).limit(bindparam("limit"))


def get_document(conn, environment: str, version: int | None = None) -> DocumentRow | None:
    """The given version, or the active (latest) one."""
    if version is None:
        row = conn.execute(_ACTIVE_DOCUMENT, {"env": environment}).first()
    else:
        row = conn.execute(_DOCUMENT, {"env": environment, "version": version}).first()
    return _doc(row) if row else None


def list_documents(conn, environment: str, limit: int = 100) -> list[DocumentRow]:
    return [_doc(r) for r in conn.execute(_DOCUMENTS, {"env": environment, "limit": limit})]


def publish_document(conn, environment: str, source: str, fmt: str, now_us: int) -> tuple[DocumentRow, bool]:
    """Make ``source`` the active document; a no-op (``created`` False) when it already is."""
    dialect.advisory_lock(conn, _NAMESPACE, environment)  # one publisher per environment (PostgreSQL)
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
class PolicyCustomerRow:
    customer_id: str
    plan: str
    anchor: int
    created_at: int
    updated_at: int


_CUSTOMER_COLS = (cu.c.customer_id, cu.c.plan, cu.c.anchor, cu.c.created_at, cu.c.updated_at)
_GET_CUSTOMER = select(*_CUSTOMER_COLS).where(cu.c.environment == _ENV, cu.c.customer_id == _CUSTOMER)


def get_customer(conn, environment: str, customer_id: str) -> PolicyCustomerRow | None:
    row = conn.execute(_GET_CUSTOMER, {"env": environment, "k_customer": customer_id}).first()
    return PolicyCustomerRow(*row) if row else None


def _insert_customer(conn):
    return (
        insert(conn, cu)
        .values(environment=_ENV, customer_id=_CUSTOMER, plan=bindparam("b_plan"), anchor=bindparam("b_anchor"),
                created_at=bindparam("b_now"), updated_at=bindparam("b_now"))
        .on_conflict_do_nothing(index_elements=["environment", "customer_id"])
        .returning(cu.c.customer_id)
    )


def insert_customer(conn, environment: str, customer_id: str, plan: str, anchor: int, now_us: int) -> bool:
    """Create the customer unless it exists (then nothing changes). Returns whether it was created."""
    params = {"env": environment, "k_customer": customer_id, "b_plan": plan, "b_anchor": anchor, "b_now": now_us}
    return conn.execute(_per_dialect(conn, _insert_customer), params).first() is not None


def update_customer(conn, environment: str, customer_id: str, now_us: int, *, plan: str, anchor: int | None = None) -> None:
    values: dict = {"plan": plan, "updated_at": now_us}
    if anchor is not None:
        values["anchor"] = anchor
    conn.execute(update(cu).where(cu.c.environment == environment, cu.c.customer_id == customer_id).values(**values))


# ---------------------------------------------------------------------------------------------- counters


class CounterTotals(NamedTuple):
    """A counter's totals: ``used`` and billable ``overage`` (credit units), and the sums of the period's call
    prices (``price``, ``overage_price``, ``cost``; None on counters written before revision 0201)."""

    used: Decimal
    overage: Decimal
    price: Decimal | None = ZERO
    overage_price: Decimal | None = ZERO
    cost: Decimal | None = ZERO


NO_USAGE = CounterTotals(ZERO, ZERO)


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
    price: Decimal | None = ZERO
    overage_price: Decimal | None = ZERO
    cost: Decimal | None = ZERO

    @property
    def usage(self) -> CounterTotals:
        return CounterTotals(self.used, self.overage, self.price, self.overage_price, self.cost)


_COUNTER_COLS = (pc.c.customer_id, pc.c.entitlement, pc.c.period_start, pc.c.period_end, pc.c.credit, pc.c.used,
                 pc.c.overage, pc.c.limit_value, pc.c.price, pc.c.overage_price, pc.c.cost)
_COUNTER_KEY = (pc.c.environment == _ENV, pc.c.customer_id == _CUSTOMER, pc.c.entitlement == _ENTITLEMENT,
                pc.c.period_start == bindparam("k_start"))
_GET_COUNTER = select(*_COUNTER_COLS).where(*_COUNTER_KEY)
_LOCK_COUNTER = _GET_COUNTER.with_for_update()
_PREVIOUS_COUNTER = (
    select(*_COUNTER_COLS)
    .where(pc.c.environment == _ENV, pc.c.customer_id == _CUSTOMER, pc.c.entitlement == _ENTITLEMENT,
           pc.c.period_start < bindparam("before"))
    .order_by(pc.c.period_start.desc())
    .limit(1)
)
_SET_COUNTER = update(pc).where(*_COUNTER_KEY).values(
    used=bindparam("b_used", type_=pc.c.used.type), overage=bindparam("b_overage", type_=pc.c.overage.type),
    limit_value=bindparam("b_limit", type_=pc.c.limit_value.type), updated_at=bindparam("b_now"),
    price=bindparam("b_price", type_=pc.c.price.type), overage_price=bindparam("b_oprice", type_=pc.c.price.type),
    cost=bindparam("b_cost", type_=pc.c.price.type),
)
_COUNTERS_BETWEEN = (
    select(*_COUNTER_COLS)
    .where(pc.c.environment == _ENV, pc.c.customer_id == _CUSTOMER, pc.c.period_start >= bindparam("start"),
           pc.c.period_start < bindparam("end"))
    .order_by(pc.c.entitlement, pc.c.period_start)
)


def _key(environment: str, customer_id: str, entitlement: str, period_start: int) -> dict:
    return {"env": environment, "k_customer": customer_id, "k_entitlement": entitlement, "k_start": period_start}


def get_counter(conn, environment: str, customer_id: str, entitlement: str, period_start: int) -> CounterRow | None:
    row = conn.execute(_GET_COUNTER, _key(environment, customer_id, entitlement, period_start)).first()
    return CounterRow(*row) if row else None


def _insert_counter(conn):
    return (
        insert(conn, pc)
        .values(
            environment=_ENV, customer_id=_CUSTOMER, entitlement=_ENTITLEMENT, period_start=bindparam("k_start"),
            period_end=bindparam("b_end"), credit=bindparam("b_credit"),
            used=bindparam("b_zero", type_=pc.c.used.type), overage=bindparam("b_zero", type_=pc.c.overage.type),
            price=bindparam("b_zero", type_=pc.c.price.type), overage_price=bindparam("b_zero", type_=pc.c.price.type),
            cost=bindparam("b_zero", type_=pc.c.price.type), limit_value=bindparam("b_limit", type_=pc.c.limit_value.type),
            created_at=bindparam("b_now"), updated_at=bindparam("b_now"),
        )
        .on_conflict_do_nothing(index_elements=["environment", "customer_id", "entitlement", "period_start"])
        .returning(pc.c.period_start)
    )


def lock_counter(
    conn, environment: str, customer_id: str, entitlement: str, period_start: int, period_end: int | None,
    credit: str, limit_value: Decimal | None, now_us: int,
) -> tuple[CounterRow, bool]:
    """Read the period's counter locked, creating it first if missing. Returns ``(row, created)``.

    One round trip when the counter exists (the common case); a new period's counter takes three.
    """
    key = _key(environment, customer_id, entitlement, period_start)
    row = conn.execute(_LOCK_COUNTER, key).first()
    if row is not None:
        return CounterRow(*row), False
    params = {**key, "b_end": period_end, "b_credit": credit, "b_zero": ZERO, "b_limit": limit_value, "b_now": now_us}
    created = conn.execute(_per_dialect(conn, _insert_counter), params).first() is not None
    return CounterRow(*conn.execute(_LOCK_COUNTER, key).one()), created


def previous_counter(conn, environment: str, customer_id: str, entitlement: str, before: int) -> CounterRow | None:
    """The latest counter of an earlier period (the period a reset closes)."""
    params = {"env": environment, "k_customer": customer_id, "k_entitlement": entitlement, "before": before}
    row = conn.execute(_PREVIOUS_COUNTER, params).first()
    return CounterRow(*row) if row else None


def set_counter(
    conn, environment: str, customer_id: str, entitlement: str, period_start: int, *,
    usage: CounterTotals, limit_value: Decimal | None, now_us: int,
) -> None:
    """Write the new totals of a counter locked by :func:`lock_counter` in this transaction."""
    params = {**_key(environment, customer_id, entitlement, period_start),
              "b_used": usage.used, "b_overage": usage.overage, "b_limit": limit_value, "b_now": now_us,
              "b_price": usage.price, "b_oprice": usage.overage_price, "b_cost": usage.cost}
    conn.execute(_SET_COUNTER, params)


def counters_between(conn, environment: str, customer_id: str, start: int, end: int) -> list[CounterRow]:
    """Counters of ``customer_id`` whose period starts in ``[start, end)`` (running totals: start 0)."""
    params = {"env": environment, "k_customer": customer_id, "start": start, "end": end}
    return [CounterRow(*r) for r in conn.execute(_COUNTERS_BETWEEN, params)]


def counters_ending_between(conn, environment: str, customer_id: str, start: int, end: int) -> list[CounterRow]:
    """Counters of ``customer_id`` whose period ends in ``(start, end]`` with billed overage (invoice lines)."""
    rows = conn.execute(select(*_COUNTER_COLS).where(
        pc.c.environment == environment, pc.c.customer_id == customer_id, pc.c.period_end > start,
        pc.c.period_end <= end).order_by(pc.c.period_end, pc.c.entitlement))
    return [row for row in (CounterRow(*r) for r in rows) if row.overage or row.overage_price]


def customers_with_counters_ending(conn, environment: str, start: int, end: int) -> set[str]:
    """Customers of ``environment`` with a counter whose period ends in ``(start, end]`` (one query, for runs)."""
    rows = conn.execute(select(pc.c.customer_id).where(pc.c.environment == environment, pc.c.period_end > start,
                                                       pc.c.period_end <= end).distinct())
    return {r[0] for r in rows}


# ---------------------------------------------------------------------------------------------- one-trip reads


@dataclass(frozen=True)
class StateRow:
    """What a decision reads (:func:`read_state`): the customer, the active document's version and
    digest, the customer's latest counter of the entitlement that started at or before *now*, and whether
    the environment has webhook endpoints (so an ``allow()`` without any skips the outbox)."""

    customer: PolicyCustomerRow
    version: int | None
    digest: str | None
    latest: tuple[int, CounterTotals] | None  # (period_start, its totals)
    now: int
    hooks: int = 0  # enabled webhook endpoints of the environment (0: no outbox rows to write)

    def usage(self, period_start: int) -> CounterTotals | None:
        """The totals of the period starting at ``period_start``, or None when this row cannot tell (the
        period starts after *now*, or the latest counter started later: ask :func:`get_counter`)."""
        if period_start > self.now:
            return None
        if self.latest is None or self.latest[0] < period_start:
            return NO_USAGE  # no counter at or after that start up to now: nothing used yet
        if self.latest[0] == period_start:
            return self.latest[1]
        return None


_ACTIVE = select(pd.c.version, pd.c.digest).where(pd.c.environment == _ENV).order_by(pd.c.version.desc()).limit(1).subquery()
_LATEST = pc.alias("latest")
_LATEST_START = (
    select(func.max(pc.c.period_start))
    .where(pc.c.environment == _ENV, pc.c.customer_id == _CUSTOMER, pc.c.entitlement == _ENTITLEMENT,
           pc.c.period_start <= bindparam("now"))
    .correlate(None)
    .scalar_subquery()
)
_HOOKS = (
    select(func.count()).select_from(we).where(we.c.environment == _ENV, we.c.disabled.is_(False))
    .correlate(None).scalar_subquery()
)
_READ_STATE = (
    select(*_CUSTOMER_COLS, _ACTIVE.c.version, _ACTIVE.c.digest, _LATEST.c.period_start, _LATEST.c.used, _LATEST.c.overage,
           _LATEST.c.price, _LATEST.c.overage_price, _LATEST.c.cost, _HOOKS)
    .select_from(
        cu.outerjoin(_ACTIVE, true()).outerjoin(_LATEST, and_(
            _LATEST.c.environment == cu.c.environment, _LATEST.c.customer_id == cu.c.customer_id,
            _LATEST.c.entitlement == _ENTITLEMENT, _LATEST.c.period_start == _LATEST_START,
        ))
    )
    .where(cu.c.environment == _ENV, cu.c.customer_id == _CUSTOMER)
)


def read_state(conn, environment: str, customer_id: str, entitlement: str, now_us: int) -> StateRow | None:
    """The customer, active document and latest counter in one query; None when the customer is unknown."""
    params = {"env": environment, "k_customer": customer_id, "k_entitlement": entitlement, "now": now_us}
    row = conn.execute(_READ_STATE, params).first()
    if row is None:
        return None
    latest = None if row[7] is None else (row[7], CounterTotals(*row[8:13]))
    return StateRow(PolicyCustomerRow(*row[:5]), row[5], row[6], latest, now_us, row[13])


# ---------------------------------------------------------------------------------------------- idempotency


@dataclass(frozen=True)
class AllowRecord:
    customer_id: str
    entitlement: str
    amount: str
    decision: str | None


def _claim_allow(conn):
    return (
        insert(conn, pa)
        .values(environment=_ENV, idempotency_key=bindparam("key"), customer_id=_CUSTOMER, entitlement=_ENTITLEMENT,
                amount=bindparam("b_amount"), decision=literal_column("NULL"), created_at=bindparam("b_now"))
        .on_conflict_do_nothing(index_elements=["environment", "idempotency_key"])
        .returning(pa.c.idempotency_key)
    )


_ALLOW_RECORD = select(pa.c.customer_id, pa.c.entitlement, pa.c.amount, pa.c.decision).where(
    pa.c.environment == _ENV, pa.c.idempotency_key == bindparam("key")
)
_FINISH_ALLOW = update(pa).where(pa.c.environment == _ENV, pa.c.idempotency_key == bindparam("key")).values(
    decision=bindparam("b_decision")
)


def claim_allow(conn, environment: str, key: str, customer_id: str, entitlement: str, amount: str, now_us: int) -> AllowRecord | None:
    """Claim an idempotency key for this transaction. Returns None when claimed, else the earlier record.

    On PostgreSQL a concurrent claim of the same key waits here until the first transaction ends, then
    sees its committed record (or claims the key itself if the first rolled back).
    """
    params = {"env": environment, "key": key, "k_customer": customer_id, "k_entitlement": entitlement,
              "b_amount": amount, "b_now": now_us}
    if conn.execute(_per_dialect(conn, _claim_allow), params).first() is not None:
        return None
    return AllowRecord(*conn.execute(_ALLOW_RECORD, {"env": environment, "key": key}).one())


def finish_allow(conn, environment: str, key: str, decision_json: str) -> None:
    conn.execute(_FINISH_ALLOW, {"env": environment, "key": key, "b_decision": decision_json})
