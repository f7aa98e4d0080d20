"""The event feed of metered credit deductions: where the credits domain reads events, and its watermark.

A narrow seam: these are the only reads of the events table (and of products) the credits domain makes, so
when the event-store interface lands they move onto it without touching ``credits.metered``.

* :func:`high_water` — a seq at or below which every event of the environment is committed. SQLite commits one
  writer at a time, so the largest stored seq is one. On PostgreSQL ingest transactions hold the environment's
  shared advisory lock (``storage.locks``) while they allocate seqs; taking it exclusively waits for those in
  flight, and any later ingest allocates larger seqs. Call it in a short transaction of its own (the lock is
  held to its end).
* :func:`events_after` — events after a seq, up to a high water, of some event names (optionally one customer).
* :func:`lock_watermark` / :func:`set_watermark` — the environment's durable watermark, read ``FOR UPDATE`` so
  concurrent consumers (server threads, ``meterbase credits settle --loop``) take turns; it advances in the
  transaction that deducts the events' credits.
* :func:`credit_products` — (environment, product id) of products with a meter paid with credits.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import func, select, update

from . import locks
from .schema import billing_products as tp, events as te
from .schema_credits import credit_feed as cf
from .upsert import insert


@dataclass(frozen=True)
class FeedEvent:
    seq: int
    event_id: str
    customer_id: str
    event_name: str
    ts: int
    metadata: dict


def high_water(conn, environment: str) -> int:
    locks.meters_exclusive(conn, environment)
    return latest_seq(conn, environment)


def latest_seq(conn, environment: str) -> int:
    """The largest seq stored (without waiting for ingests in flight: a cheap "anything new?")."""
    return conn.execute(select(func.coalesce(func.max(te.c.seq), 0)).where(te.c.environment == environment)).scalar_one()


def events_after(conn, environment: str, after: int, upto: int, names: list[str], limit: int,
                 customer_id: str | None = None) -> list[FeedEvent]:
    stmt = select(te.c.seq, te.c.event_id, te.c.customer_id, te.c.event_name, te.c.ts, te.c.metadata).where(
        te.c.environment == environment, te.c.seq > after, te.c.seq <= upto, te.c.event_name.in_(sorted(names)))
    if customer_id is not None:
        stmt = stmt.where(te.c.customer_id == customer_id)
    rows = conn.execute(stmt.order_by(te.c.seq).limit(limit))
    return [FeedEvent(seq, eid, cust, name, ts, orjson.loads(meta)) for seq, eid, cust, name, ts, meta in rows]


def watermark(conn, environment: str) -> int:
    found = conn.execute(select(cf.c.last_seq).where(cf.c.environment == environment)).scalar()
    return 0 if found is None else found


def lock_watermark(conn, environment: str, now: int) -> int:
    conn.execute(insert(conn, cf).values(environment=environment, last_seq=0, updated_at=now)
                 .on_conflict_do_nothing(index_elements=["environment"]))
    return conn.execute(select(cf.c.last_seq).where(cf.c.environment == environment).with_for_update()).scalar_one()


def set_watermark(conn, environment: str, seq: int, now: int) -> None:
    conn.execute(update(cf).where(cf.c.environment == environment).values(last_seq=seq, updated_at=now))


def credit_products(conn) -> list[tuple[str, str]]:
    rows = conn.execute(select(tp.c.environment, tp.c.id).where(tp.c.lines.contains('"credit_entitlement_id"', autoescape=True),
                                                                 tp.c.archived.is_(False)))
    return [(env, pid) for env, pid in rows]
