"""Customer wallet persistence: one row per (environment, customer, currency) and its ledger.

A change locks the wallet row (created when missing; ``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) and writes the new balance with its ledger entry in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import and_, select, update

from ..credits.wallets import Wallet, WalletEntry
from .schema_credits import customer_wallets as w, wallet_ledger as wl
from .upsert import insert


def _wallet(row) -> Wallet:
    return Wallet(row.customer_id, row.currency, row.balance, row.created_at, row.updated_at)


def list_wallets(conn, environment: str, customer_id: str) -> list[Wallet]:
    rows = conn.execute(select(w).where(w.c.environment == environment, w.c.customer_id == customer_id)
                        .order_by(w.c.currency))
    return [_wallet(r) for r in rows]


def lock_wallet(conn, environment: str, customer_id: str, currency: str, now: int) -> Wallet:
    where = and_(w.c.environment == environment, w.c.customer_id == customer_id, w.c.currency == currency)
    row = conn.execute(select(w).where(where).with_for_update()).first()
    if row is None:
        conn.execute(insert(conn, w).values(environment=environment, customer_id=customer_id, currency=currency,
                                            balance=0, created_at=now, updated_at=now)
                     .on_conflict_do_nothing(index_elements=["environment", "customer_id", "currency"]))
        row = conn.execute(select(w).where(where).with_for_update()).one()
    return _wallet(row)


def _entry(row) -> WalletEntry:
    return WalletEntry(row.id, row.customer_id, row.currency, row.event_type, row.is_credit, row.amount,
                       row.before_balance, row.after_balance, row.created_at, row.reason, row.reference_object_id,
                       row.idempotency_key)


def entry_by_key(conn, environment: str, key: str) -> tuple[WalletEntry, str | None] | None:
    row = conn.execute(select(wl).where(wl.c.environment == environment, wl.c.idempotency_key == key)).first()
    return (_entry(row), row.fingerprint) if row else None


def record(conn, environment: str, entry: WalletEntry, fingerprint: str | None, now: int) -> Wallet:
    """Write ``entry`` and set the wallet's balance to its ``after_balance``; returns the wallet."""
    conn.execute(wl.insert().values(
        id=entry.id, environment=environment, customer_id=entry.customer_id, currency=entry.currency,
        event_type=entry.event_type, is_credit=entry.is_credit, amount=entry.amount,
        before_balance=entry.before_balance, after_balance=entry.after_balance, reason=entry.reason,
        reference_object_id=entry.reference_object_id, idempotency_key=entry.idempotency_key,
        fingerprint=fingerprint, created_at=entry.created_at))
    where = and_(w.c.environment == environment, w.c.customer_id == entry.customer_id, w.c.currency == entry.currency)
    conn.execute(update(w).where(where).values(balance=entry.after_balance, updated_at=now))
    return _wallet(conn.execute(select(w).where(where)).one())


def list_entries(conn, environment: str, customer_id: str, currency: str | None = None, limit: int = 100,
                 offset: int = 0) -> list[WalletEntry]:
    stmt = select(wl).where(wl.c.environment == environment, wl.c.customer_id == customer_id)
    if currency is not None:
        stmt = stmt.where(wl.c.currency == currency)
    return [_entry(r) for r in conn.execute(stmt.order_by(wl.c.seq.desc()).limit(limit).offset(offset))]


def funded(conn, environment: str, customer_ids: list[str]) -> set[tuple[str, str]]:
    """``(customer_id, currency)`` of the wallets of these customers that hold money (one query)."""
    if not customer_ids:
        return set()
    rows = conn.execute(select(w.c.customer_id, w.c.currency).where(
        w.c.environment == environment, w.c.customer_id.in_(sorted(set(customer_ids))), w.c.balance > 0))
    return {(c, cur) for c, cur in rows}
