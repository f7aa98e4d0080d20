"""Credits persistence: entitlements, balances (locked per change), grants and the ledger.

Every function runs inside the caller's transaction (``Store.read()`` / ``Store.write()``); the service in
``meterbase.credits.service`` decides what commits together. A change of a balance starts with
:func:`lock_account`: the balance row is created if missing (``INSERT … ON CONFLICT DO NOTHING``) and read
``FOR UPDATE`` on PostgreSQL (SQLite's write transactions are ``BEGIN IMMEDIATE`` already), so concurrent
changes of one balance queue and each sees the previous one's grants. :func:`save_account` then writes the
account's new and changed grants, its ledger entries and the balance row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import and_, func, select, update

from ..billing.periods import Cycle
from ..credits.accrual import Accrual
from ..credits.cycles import Schedule
from ..credits.entitlement import CreditEntitlement
from ..credits.ledger import CreditAccount, Entry, Grant
from ..ids import new_id
from .schema_credits import credit_accruals as ca, credit_balances as cb, credit_entitlements as ce, \
    credit_grants as cg, credit_ledger as cl
from .upsert import insert

ZERO = Decimal(0)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


# ---------------------------------------------------------------------------------------------- entitlements

_ENT_FIELDS = [f.name for f in fields(CreditEntitlement)]


def _entitlement(row) -> CreditEntitlement:
    return CreditEntitlement(**{name: getattr(row, name) for name in _ENT_FIELDS})


def insert_entitlement(conn, ent: CreditEntitlement) -> None:
    conn.execute(ce.insert().values(**{name: getattr(ent, name) for name in _ENT_FIELDS}))


def get_entitlement(conn, environment: str, entitlement_id: str) -> CreditEntitlement | None:
    row = conn.execute(select(ce).where(ce.c.environment == environment, ce.c.id == entitlement_id)).first()
    return _entitlement(row) if row else None


def covering_entitlement(conn, environment: str) -> CreditEntitlement | None:
    """The environment's entitlement whose balances pay for ``allow()``'s usage (the oldest, if several)."""
    row = conn.execute(select(ce).where(ce.c.environment == environment, ce.c.covers_policy_usage.is_(True),
                                        ce.c.deleted_at.is_(None)).order_by(ce.c.created_at, ce.c.id).limit(1)).first()
    return _entitlement(row) if row else None


def update_entitlement(conn, ent: CreditEntitlement) -> None:
    values = {name: getattr(ent, name) for name in _ENT_FIELDS if name not in ("id", "environment", "created_at")}
    conn.execute(update(ce).where(ce.c.environment == ent.environment, ce.c.id == ent.id).values(**values))


def list_entitlements(conn, environment: str, *, deleted: bool = False, limit: int = 100,
                      offset: int = 0) -> list[CreditEntitlement]:
    where = ce.c.deleted_at.is_not(None) if deleted else ce.c.deleted_at.is_(None)
    rows = conn.execute(select(ce).where(ce.c.environment == environment, where)
                        .order_by(ce.c.created_at.desc(), ce.c.id).limit(limit).offset(offset))
    return [_entitlement(r) for r in rows]


# ---------------------------------------------------------------------------------------------- balances


@dataclass(frozen=True)
class BalanceRow:
    id: str
    environment: str
    entitlement_id: str
    customer_id: str
    balance: Decimal
    overage: Decimal
    threshold_base: Decimal | None
    schedule: str | None
    settled_until: int | None
    issued_cycle: int | None
    next_event_at: int | None
    last_transaction_at: int | None
    created_at: int
    updated_at: int

    def parsed_schedule(self) -> Schedule | None:
        if self.schedule is None:
            return None
        s = orjson.loads(self.schedule)
        credits = s.get("credits_per_cycle")
        return Schedule(s["anchor"], Cycle(s["unit"], s["count"]), None if credits is None else Decimal(credits),
                        s.get("source_id"), s.get("starts_at"), s.get("ends_at"))


_BALANCE_COLS = [cb.c[f.name] for f in fields(BalanceRow)]


def _balance_where(environment: str, entitlement_id: str, customer_id: str):
    return and_(cb.c.environment == environment, cb.c.entitlement_id == entitlement_id, cb.c.customer_id == customer_id)


def get_balance(conn, environment: str, entitlement_id: str, customer_id: str, *,
                for_update: bool = False) -> BalanceRow | None:
    """The balance row (None: never written); ``for_update`` locks it for the caller's write transaction."""
    stmt = select(*_BALANCE_COLS).where(_balance_where(environment, entitlement_id, customer_id))
    row = conn.execute(stmt.with_for_update() if for_update else stmt).first()
    return BalanceRow(*row) if row else None


def list_balances(conn, environment: str, entitlement_id: str | None = None, customer_id: str | None = None,
                  limit: int = 100, offset: int = 0) -> list[BalanceRow]:
    stmt = select(*_BALANCE_COLS).where(cb.c.environment == environment)
    if entitlement_id is not None:
        stmt = stmt.where(cb.c.entitlement_id == entitlement_id)
    if customer_id is not None:
        stmt = stmt.where(cb.c.customer_id == customer_id)
    rows = conn.execute(stmt.order_by(cb.c.created_at, cb.c.id).limit(limit).offset(offset))
    return [BalanceRow(*r) for r in rows]


def customers_with_balances(conn, environment: str) -> set[str]:
    """Customers of ``environment`` with a credit balance (one query, for invoice runs)."""
    return {r[0] for r in conn.execute(select(cb.c.customer_id).where(cb.c.environment == environment).distinct())}


def due_balances(conn, now: int, environment: str | None = None, limit: int = 1000) -> list[BalanceRow]:
    """Balances with an expiry or cycle end at or before ``now`` (the settlement sweep's work)."""
    stmt = select(*_BALANCE_COLS).where(cb.c.next_event_at.is_not(None), cb.c.next_event_at <= now)
    if environment is not None:
        stmt = stmt.where(cb.c.environment == environment)
    return [BalanceRow(*r) for r in conn.execute(stmt.order_by(cb.c.next_event_at).limit(limit))]


def _grant(row) -> Grant:
    return Grant(row.id, row.initial_amount, row.remaining_amount, row.created_at, row.source_type, row.source_id,
                 row.parent_grant_id, row.rollover_count, row.expires_at, row.cycle_end, row.closed, row.closed_at,
                 orjson.loads(row.metadata))


def lock_balance(conn, environment: str, entitlement_id: str, customer_id: str, now: int) -> BalanceRow:
    """The balance row locked for this transaction (created when missing)."""
    where = _balance_where(environment, entitlement_id, customer_id)
    row = conn.execute(select(*_BALANCE_COLS).where(where).with_for_update()).first()
    if row is None:
        conn.execute(insert(conn, cb).values(
            id=new_id("cbl"), environment=environment, entitlement_id=entitlement_id, customer_id=customer_id,
            balance=ZERO, overage=ZERO, created_at=now, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["environment", "entitlement_id", "customer_id"]))
        row = conn.execute(select(*_BALANCE_COLS).where(where).with_for_update()).one()
    return BalanceRow(*row)


def lock_account(conn, environment: str, entitlement_id: str, customer_id: str,
                 now: int) -> tuple[BalanceRow, CreditAccount]:
    """The balance locked for this transaction (created when missing) and its open grants, as a CreditAccount."""
    bal = lock_balance(conn, environment, entitlement_id, customer_id, now)
    return bal, read_account(conn, bal)


def read_account(conn, bal: BalanceRow) -> CreditAccount:
    """The account of ``bal`` without a lock (a read that settles a copy in memory)."""
    grants = [_grant(r) for r in conn.execute(
        select(cg).where(cg.c.balance_id == bal.id, cg.c.is_open.is_(True)).order_by(cg.c.seq))]
    return CreditAccount(bal.id, bal.balance, bal.overage, grants, bal.parsed_schedule(), bal.settled_until,
                   bal.issued_cycle, bal.threshold_base)


def _schedule_json(s: Schedule | None) -> str | None:
    if s is None:
        return None
    return _json({"anchor": s.anchor, "unit": s.cycle.unit, "count": s.cycle.count,
                  "credits_per_cycle": None if s.credits_per_cycle is None else str(s.credits_per_cycle),
                  "source_id": s.source_id, "starts_at": s.starts_at, "ends_at": s.ends_at})


def save_account(conn, bal: BalanceRow, acct: CreditAccount, now: int,
                 fingerprints: dict[str, str] | None = None) -> None:
    """Write what ``acct`` changed since :func:`lock_account`: grants, ledger entries, the balance row."""
    new = [g for g in acct.grants if g.is_new]
    if new:
        conn.execute(cg.insert(), [dict(
            id=g.id, balance_id=bal.id, initial_amount=g.initial, remaining_amount=g.remaining,
            source_type=g.source_type, source_id=g.source_id, parent_grant_id=g.parent_grant_id,
            rollover_count=g.rollover_count, expires_at=g.expires_at, cycle_end=g.cycle_end, closed=g.closed,
            closed_at=g.closed_at, is_open=g.is_open, metadata=_json(g.metadata), created_at=g.created_at,
            updated_at=now) for g in new])
    for g in acct.grants:
        if g.changed and not g.is_new:
            conn.execute(update(cg).where(cg.c.id == g.id).values(
                remaining_amount=g.remaining, closed=g.closed, closed_at=g.closed_at, is_open=g.is_open, updated_at=now))
    fingerprints = fingerprints or {}
    if acct.entries:
        conn.execute(cl.insert(), [dict(
            id=e.id, environment=bal.environment, balance_id=bal.id, entitlement_id=bal.entitlement_id,
            customer_id=bal.customer_id, transaction_type=e.transaction_type, amount=e.amount, is_credit=e.is_credit,
            balance_before=e.balance_before, balance_after=e.balance_after, overage_before=e.overage_before,
            overage_after=e.overage_after, grant_id=e.grant_id, allocations=_json([[g, str(a)] for g, a in e.allocations]),
            reason=e.reason, metadata=_json(e.metadata), period_start=e.period[0] if e.period else None,
            period_end=e.period[1] if e.period else None, unit_price=e.unit_price, currency=e.currency,
            reference_type=e.reference_type, reference_id=e.reference_id, idempotency_key=e.key,
            fingerprint=fingerprints.get(e.key or ""), created_at=e.at, recorded_at=now) for e in acct.entries])
    last = max((e.at for e in acct.entries), default=bal.last_transaction_at)
    conn.execute(update(cb).where(cb.c.id == bal.id).values(
        balance=acct.balance, overage=acct.overage, threshold_base=acct.threshold_base,
        schedule=_schedule_json(acct.schedule), settled_until=acct.settled_until, issued_cycle=acct.issued_cycle,
        next_event_at=acct.next_event(), last_transaction_at=last, updated_at=now))


# ---------------------------------------------------------------------------------------------- grants


@dataclass(frozen=True)
class GrantRow:
    grant: Grant
    updated_at: int


GRANT_STATUSES = ("active", "expired", "depleted")


def list_grants(conn, balance_id: str, status: str | None = None, limit: int = 100, offset: int = 0) -> list[GrantRow]:
    stmt = select(cg).where(cg.c.balance_id == balance_id)
    if status == "active":
        stmt = stmt.where(cg.c.is_open.is_(True))
    elif status == "expired":
        stmt = stmt.where(cg.c.closed.is_not(None))
    elif status == "depleted":
        stmt = stmt.where(cg.c.is_open.is_(False), cg.c.closed.is_(None))
    rows = conn.execute(stmt.order_by(cg.c.seq).limit(limit).offset(offset))
    return [GrantRow(_grant(r), r.updated_at) for r in rows]


# ---------------------------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class LedgerRow:
    """A stored ledger entry with what identifies its balance."""

    entry: Entry
    seq: int
    environment: str
    entitlement_id: str
    customer_id: str
    fingerprint: str | None
    recorded_at: int


def _ledger(row) -> LedgerRow:
    entry = Entry(row.transaction_type, row.amount, row.is_credit, row.created_at, row.balance_before,
                  row.balance_after, row.overage_before, row.overage_after, row.grant_id,
                  tuple((g, Decimal(a)) for g, a in orjson.loads(row.allocations)), row.reason,
                  orjson.loads(row.metadata),
                  None if row.period_start is None else (row.period_start, row.period_end), row.unit_price,
                  row.currency, row.idempotency_key, row.reference_type, row.reference_id, row.id)
    return LedgerRow(entry, row.seq, row.environment, row.entitlement_id, row.customer_id, row.fingerprint,
                     row.recorded_at)


def entry_by_key(conn, environment: str, key: str) -> LedgerRow | None:
    row = conn.execute(select(cl).where(cl.c.environment == environment, cl.c.idempotency_key == key)).first()
    return _ledger(row) if row else None


def list_ledger(conn, balance_id: str, *, transaction_type: str | None = None, start: int | None = None,
                end: int | None = None, limit: int = 100, offset: int = 0, newest_first: bool = True) -> list[LedgerRow]:
    stmt = select(cl).where(cl.c.balance_id == balance_id)
    if transaction_type is not None:
        stmt = stmt.where(cl.c.transaction_type == transaction_type)
    if start is not None:
        stmt = stmt.where(cl.c.created_at >= start)
    if end is not None:
        stmt = stmt.where(cl.c.created_at < end)
    order = cl.c.seq.desc() if newest_first else cl.c.seq
    return [_ledger(r) for r in conn.execute(stmt.order_by(order).limit(limit).offset(offset))]


def customer_entries(conn, environment: str, customer_id: str, transaction_type: str, start: int,
                     end: int) -> list[LedgerRow]:
    """``customer_id``'s entries of one type that took effect in ``[start, end)`` (invoice lines)."""
    rows = conn.execute(select(cl).where(
        cl.c.environment == environment, cl.c.customer_id == customer_id, cl.c.transaction_type == transaction_type,
        cl.c.created_at >= start, cl.c.created_at < end).order_by(cl.c.seq))
    return [_ledger(r) for r in rows]


def count_ledger(conn, balance_id: str) -> int:
    return conn.execute(select(func.count()).select_from(cl).where(cl.c.balance_id == balance_id)).scalar_one()


# ---------------------------------------------------------------------------------------------- accruals


def _accrual_where(environment: str, entitlement_id: str, customer_id: str, source: str):
    return and_(ca.c.environment == environment, ca.c.entitlement_id == entitlement_id,
                ca.c.customer_id == customer_id, ca.c.source == source)


def get_accrual(conn, environment: str, entitlement_id: str, customer_id: str, source: str) -> Accrual | None:
    row = conn.execute(select(ca.c.divisor, ca.c.total, ca.c.deducted)
                       .where(_accrual_where(environment, entitlement_id, customer_id, source))).first()
    return Accrual(*row) if row else None


def save_accrual(conn, environment: str, entitlement_id: str, customer_id: str, source: str, acc: Accrual,
                 now: int) -> None:
    """Insert or update one source's accrual (the caller holds the balance's lock)."""
    values = dict(divisor=acc.divisor, total=acc.total, deducted=acc.deducted, updated_at=now)
    done = conn.execute(update(ca).where(_accrual_where(environment, entitlement_id, customer_id, source))
                        .values(**values)).rowcount
    if not done:
        conn.execute(ca.insert().values(environment=environment, entitlement_id=entitlement_id,
                                        customer_id=customer_id, source=source, **values))
