"""Event persistence: idempotent batch insert (duplicates vs conflicts), lookup, listing and the seq-ordered
reads of the fold (the unfolded tail, chunks after a watermark, feeds such as credit deductions)."""

from __future__ import annotations

import orjson
from sqlalchemy import and_, bindparam, func, or_, select, text

from ..errors import ValidationError
from ..eventstore import IngestResult, StoredEvent
from ..events.model import Event
from .schema import events as t
from . import dialect, sequences
from .upsert import execute_many, insert

__all__ = ["IngestResult", "insert_events", "get_event", "list_events", "count_events", "scan", "scan_by_seq",
           "scan_tail", "events_after", "latest_seq"]


def insert_events(conn, environment: str, batch: list[Event], now_us: int) -> IngestResult:
    """Insert new events; report replays. Runs inside the caller's write transaction."""
    result = IngestResult()
    first: dict[str, Event] = {}
    repeats: list[Event] = []  # later copies of an id in this batch: judged against what ends up stored
    for ev in batch:
        if ev.event_id in first:
            repeats.append(ev)
        else:
            first[ev.event_id] = ev
    if not first:
        return result
    seqs = sequences.allocate(conn, len(first))
    rows = [
        {
            "seq": seq,
            "environment": environment,
            "event_id": ev.event_id,
            "customer_id": ev.customer_id,
            "event_name": ev.event_name,
            "ts": ev.ts_us,
            "metadata": orjson.dumps(ev.metadata).decode(),
            "fingerprint": ev.fingerprint,
            "ingested_at": now_us,
        }
        for seq, ev in zip(seqs, first.values())  # seq follows submission order ("last" breaks ties by it)
    ]
    rows.sort(key=lambda r: r["event_id"])  # insert in one lock order: concurrent batches never deadlock
    res = execute_many(conn, "events_insert", lambda: insert(conn, t).on_conflict_do_nothing(
        index_elements=["environment", "event_id"]), rows)  # executemany: measured faster than arrays here
    if res is not None and res.rowcount == len(rows):  # every row was new: nothing to read back
        inserted = {r["event_id"]: r["seq"] for r in rows}
    else:
        inserted = _stored(conn, environment, seqs)
    result.ingested = len(inserted)
    result.new_events = sorted(((seq, first[eid]) for eid, seq in inserted.items()), key=lambda p: p[0])
    replayed = [eid for eid in first if eid not in inserted]
    if replayed:
        existing = dict(
            conn.execute(
                select(t.c.event_id, t.c.fingerprint).where(t.c.environment == environment, t.c.event_id.in_(replayed))
            ).all()
        )
        for eid in replayed:
            (result.duplicates if existing.get(eid) == first[eid].fingerprint else result.conflicts).append(eid)
    else:
        existing = {}
    for ev in repeats:  # a copy is a duplicate of the stored event or a conflict with it, never both
        stored = first[ev.event_id].fingerprint if ev.event_id in inserted else existing.get(ev.event_id)
        (result.duplicates if stored == ev.fingerprint else result.conflicts).append(ev.event_id)
    return result


def _stored(conn, environment: str, seqs: list[int]) -> dict[str, int]:
    """``event_id -> seq`` of the rows this transaction just inserted with ``seqs``.

    The insert goes through the driver's executemany (no RETURNING, no per-row bind processing), so
    what was new is read back by seq: the seqs were allocated to this transaction alone, and a row
    holding one of them is ours (on PostgreSQL other transactions' seqs can fall inside the range,
    hence the membership test).
    """
    mine = set(seqs)
    rows = conn.execute(_BY_SEQ_RANGE, {"lo": seqs[0], "hi": seqs[-1], "env": environment})
    return {event_id: seq for seq, event_id in rows if seq in mine}


_BY_SEQ_RANGE = select(t.c.seq, t.c.event_id).where(t.c.seq >= bindparam("lo"), t.c.seq <= bindparam("hi"),
                                                    t.c.environment == bindparam("env"))


def row_to_dict(row) -> dict:
    return {
        "seq": row.seq,
        "event_id": row.event_id,
        "customer_id": row.customer_id,
        "event_name": row.event_name,
        "ts": row.ts,
        "metadata": orjson.loads(row.metadata),
        "ingested_at": row.ingested_at,
    }


def get_event(conn, environment: str, event_id: str) -> dict | None:
    row = conn.execute(select(t).where(t.c.environment == environment, t.c.event_id == event_id)).first()
    return row_to_dict(row) if row else None


def _filters(environment, customer_id, event_name, start, end):
    conds = [t.c.environment == environment]
    if customer_id:
        conds.append(t.c.customer_id == customer_id)
    if event_name:
        conds.append(t.c.event_name == event_name)
    if start is not None:
        conds.append(t.c.ts >= start)
    if end is not None:
        conds.append(t.c.ts < end)
    return conds


#: Events a filtered listing (``GET /v1/events?meter_id=``) may read for one page: the meter's filter runs
#: on each event's metadata, so a filter that matches rarely must not scan a whole event name per request.
SCAN_BUDGET = 100_000


def list_events(
    conn,
    environment: str,
    *,
    customer_id: str | None = None,
    event_name: str | None = None,
    start: int | None = None,
    end: int | None = None,
    after: tuple[int, int] | None = None,
    limit: int = 100,
    predicate=None,
    offset: int = 0,
    scan_budget: int | None = None,
) -> list[dict]:
    """Newest first, keyset-paginated on ``(ts, seq)``; ``predicate`` filters metadata in Python.

    With a ``predicate``, at most ``scan_budget`` (default :data:`SCAN_BUDGET`) events are read for the page;
    past it the listing is refused with a 422 that names the bound and how to narrow the query.
    """
    conds = _filters(environment, customer_id, event_name, start, end)
    if after is not None:
        ts, seq = after
        conds.append(or_(t.c.ts < ts, and_(t.c.ts == ts, t.c.seq < seq)))
    q = select(t).where(*conds).order_by(t.c.ts.desc(), t.c.seq.desc())
    if predicate is None:
        return [row_to_dict(r) for r in conn.execute(q.offset(offset).limit(limit))]
    out: list[dict] = []
    skipped = scanned = 0
    budget = SCAN_BUDGET if scan_budget is None else scan_budget
    for r in conn.execute(q.execution_options(yield_per=1000).limit(budget + 1)):
        scanned += 1
        if scanned > budget:
            raise ValidationError(
                f"the meter's filter matched {len(out) + skipped} of the {budget:,} most recent '{event_name}' events "
                f"this page may scan (scan budget: {budget:,} events per page); narrow the listing with from/to or "
                "customer_id", "meter_id")
        d = row_to_dict(r)
        if not predicate(d["metadata"]):
            continue
        if skipped < offset:
            skipped += 1
            continue
        out.append(d)
        if len(out) >= limit:
            break
    return out


def count_events(conn, environment: str) -> int:
    return conn.execute(select(func.count()).select_from(t).where(t.c.environment == environment)).scalar_one()


def scan(conn, environment: str, event_name: str, start: int, end: int, customer_id: str | None = None):
    """Yield ``(seq, customer_id, ts, metadata_dict)`` for one event name in ``[start, end)``."""
    conds = _filters(environment, customer_id, event_name, start, end)
    q = select(t.c.seq, t.c.customer_id, t.c.ts, t.c.metadata).where(*conds).execution_options(yield_per=5000)
    loads = orjson.loads
    for seq, cust, ts, meta in conn.execute(q):
        yield seq, cust, ts, loads(meta)


def scan_by_seq(conn, environment: str, event_name: str, after_seq: int, limit: int,
                upto: int | None = None) -> list[tuple]:
    """One chunk of ``(seq, customer_id, ts, metadata_dict)`` in storage order, after ``after_seq``."""
    q = (
        select(t.c.seq, t.c.customer_id, t.c.ts, t.c.metadata)
        .where(t.c.environment == environment, t.c.event_name == event_name, t.c.seq > after_seq)
        .order_by(t.c.seq)
        .limit(limit)
    )
    if upto is not None:
        q = q.where(t.c.seq <= upto)
    return [(seq, cust, ts, orjson.loads(meta)) for seq, cust, ts, meta in conn.execute(q)]


def scan_tail(conn, environment: str, event_name: str | None, after_seq: int, customer_id: str | None = None):
    """Yield ``(seq, customer_id, event_name, ts, metadata_dict)`` of the events after ``after_seq`` (the unfolded
    tail) in seq order, read through the seq order itself: its cost follows the tail, not the events stored."""
    conds = ["seq > :after", "environment = :env"]
    params: dict = {"after": after_seq, "env": environment}
    if event_name is not None:
        conds.append("event_name = :name")
        params["name"] = event_name
    if customer_id is not None:
        conds.append("customer_id = :cust")
        params["cust"] = customer_id
    sql = (f"SELECT seq, customer_id, event_name, ts, metadata FROM events{dialect.seq_range_hint(conn)} "
           f"WHERE {' AND '.join(conds)} ORDER BY seq")
    loads = orjson.loads
    for seq, cust, name, ts, meta in conn.execute(text(sql).execution_options(yield_per=5000), params):
        yield seq, cust, name, ts, loads(meta)


def events_after(conn, environment: str, after: int, upto: int, names: list[str] | None, limit: int,
                 customer_id: str | None = None) -> list[StoredEvent]:
    """Events with ``after < seq <= upto`` (of ``names``; all when ``None``), in seq order, at most ``limit``."""
    stmt = select(t.c.seq, t.c.event_id, t.c.customer_id, t.c.event_name, t.c.ts, t.c.metadata).where(
        t.c.environment == environment, t.c.seq > after, t.c.seq <= upto)
    if names is not None:
        stmt = stmt.where(t.c.event_name.in_(sorted(names)))
    if customer_id is not None:
        stmt = stmt.where(t.c.customer_id == customer_id)
    rows = conn.execute(stmt.order_by(t.c.seq).limit(limit))
    return [StoredEvent(seq, eid, cust, name, ts, orjson.loads(meta)) for seq, eid, cust, name, ts, meta in rows]


def latest_seq(conn, environment: str) -> int:
    """The largest seq stored in ``environment`` (0 when none)."""
    return conn.execute(select(func.coalesce(func.max(t.c.seq), 0)).where(t.c.environment == environment)).scalar_one()
