"""The event feed of metered credit deductions: where the credits domain reads events, and its watermark.

A narrow seam: the credits domain reads events only through here, and here reads them through the event-store
interface (``meterbase.eventstore.EventStore``: ``events_after``, ``latest_seq``, ``high_water``), so another
event store serves ``credits.metered`` unchanged. This module keeps the deductions' own watermark (and products).

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

from sqlalchemy import select, update

from ..eventstore import StoredEvent as FeedEvent
from .dialect import insert
from .schema import billing_products as tp
from .schema_credits import credit_feed as cf
from .sql_event_store import event_store_for

__all__ = ["FeedEvent", "high_water", "latest_seq", "events_after", "watermark", "lock_watermark", "set_watermark",
           "credit_products"]


def high_water(conn, environment: str) -> int:
    return event_store_for(conn).high_water(conn, environment)


def latest_seq(conn, environment: str) -> int:
    """The largest seq stored (without waiting for ingests in flight: a cheap "anything new?")."""
    return event_store_for(conn).latest_seq(conn, environment)


def events_after(conn, environment: str, after: int, upto: int, names: list[str], limit: int,
                 customer_id: str | None = None) -> list[FeedEvent]:
    return event_store_for(conn).events_after(conn, environment, after, upto, sorted(names), limit, customer_id)


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
