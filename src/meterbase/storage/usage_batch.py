"""Many customers' meter totals, each over its own window, in a few statements.

An invoice run over subscriptions that started at different instants needs, per meter, one
customer's total over one window for every subscription: asked one by one that is a handful of
queries per subscription. Here the windows travel to the database as rows of a ``WITH w AS
(VALUES …)`` table joined to the rollups (whole UTC hours and days, through the primary key
``(meter_id, grain, customer_id, bucket)``) and to the events (sub-hour edges, through the
``(environment, customer_id, event_name, ts)`` index): one statement per ``CHUNK`` pieces. The
decomposition of a window into pieces is ``meters.windows.decompose``, the same as for
:func:`usage.meter_total`, so each result equals ``meter_total`` of that customer and window.
Rollups hold the events up to the fold watermark; the events after it (the unfolded tail, read once
in seq order) are added to the windows whose whole-bucket pieces they fall in.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from ..meters.aggregate import Partial
from ..meters.model import Meter
from ..meters.windows import plan
from . import dialect, events_repo, usage
from .schema import GRAIN_CODES

Window = tuple[str, int, int]  # (customer_id, start_us, end_us)

#: Pieces (window parts) per statement: 5 parameters each stays far below every backend's limit.
CHUNK = 500

_ROLLUP_SQL = """
WITH w(idx, cust, grain, lo, hi) AS (VALUES {rows})
SELECT w.idx, r.events, r.n, r.sum, r.min, r.max, r.last_ts, r.last_seq, r.last_value, r.rejected
FROM w JOIN meter_rollups r
  ON r.meter_id = {p} AND r.grain = w.grain AND r.customer_id = w.cust AND r.bucket >= w.lo AND r.bucket < w.hi
"""
_EVENTS_SQL = """
WITH w(idx, cust, lo, hi) AS (VALUES {rows})
SELECT w.idx, e.seq, e.ts, e.metadata
FROM w JOIN events e
  ON e.environment = {p} AND e.event_name = {p} AND e.customer_id = w.cust AND e.ts >= w.lo AND e.ts < w.hi
"""


def meter_totals_many(conn, meter: Meter, windows: list[Window]) -> list[Partial]:
    """``[meter_total(conn, meter, start, end, customer) for customer, start, end in windows]``, batched."""
    if meter.agg.distinct_values or not meter.agg.rolled_up:  # side table / raw-event reads: per window
        return [usage.meter_total(conn, meter, s, e, c) for c, s, e in windows]
    out = [Partial() for _ in windows]
    rollup_pieces: list[tuple] = []
    raw_pieces: list[tuple] = []
    for idx, (cust, start, end) in enumerate(windows):
        if start >= end:
            continue
        ranges = plan([(start, end)])
        for grain in ("day", "hour"):
            rollup_pieces.extend((idx, cust, GRAIN_CODES[grain], lo, hi) for lo, hi in ranges[grain])
        raw_pieces.extend((idx, cust, lo, hi) for lo, hi in ranges["raw"])
    # Straight to the driver: a SQLAlchemy text() with thousands of bind parameters costs more to
    # build than the query takes to run. Decimals arrive as text on SQLite, as Decimal on PostgreSQL.
    p = dialect.placeholder(conn)
    dec = _decimal
    for rows in _chunks(rollup_pieces):
        sql = _ROLLUP_SQL.format(rows=_values(rows, p), p=p)
        for idx, events, n, s, mn, mx, lts, lseq, lval, rej in conn.exec_driver_sql(sql, _flat(rows) + (meter.id,)):
            out[idx].merge(Partial(events=events, n=n, sum=dec(s), min=dec(mn), max=dec(mx), last_ts=lts,
                                   last_seq=lseq, last_value=dec(lval), rejected=rej))
    if rollup_pieces:
        _add_tail(conn, meter, rollup_pieces, out)
    loads = orjson.loads
    for rows in _chunks(raw_pieces):
        sql = _EVENTS_SQL.format(rows=_values(rows, p), p=p)
        for idx, seq, ts, meta in conn.exec_driver_sql(sql, _flat(rows) + (meter.environment, meter.event_name)):
            meta = loads(meta)
            if meter.predicate(meta):
                out[idx].add_event(meter, meta, ts, seq)
    return out


def _add_tail(conn, meter: Meter, rollup_pieces: list[tuple], out: list[Partial]) -> None:
    """Events after the watermark, into every window whose whole-bucket piece holds them."""
    mark = usage.folded_view(conn, meter.environment)
    by_customer: dict[str, list[tuple[int, int, int]]] = {}
    for idx, cust, _grain, lo, hi in rollup_pieces:
        by_customer.setdefault(cust, []).append((lo, hi, idx))
    single = next(iter(by_customer)) if len(by_customer) == 1 else None
    for seq, cust, _name, ts, meta in events_repo.scan_tail(conn, meter.environment, meter.event_name, mark, single):
        pieces = by_customer.get(cust)
        if not pieces or not meter.predicate(meta):
            continue
        for lo, hi, idx in pieces:
            if lo <= ts < hi:
                out[idx].add_event(meter, meta, ts, seq)


def _chunks(pieces: list[tuple]):
    for lo in range(0, len(pieces), CHUNK):
        yield pieces[lo:lo + CHUNK]


def _values(rows: list[tuple], p: str) -> str:
    """``(?, ?, …), (?, …)``; the first row casts its cells so PostgreSQL knows the column types."""
    first = "(" + ", ".join(f"CAST({p} AS {'VARCHAR' if isinstance(v, str) else 'BIGINT'})" for v in rows[0]) + ")"
    rest = "(" + ", ".join(p for _ in rows[0]) + ")"
    return ", ".join([first] + [rest] * (len(rows) - 1))


def _flat(rows: list[tuple]) -> tuple:
    return tuple(v for row in rows for v in row)


def _decimal(value):
    return value if value is None or isinstance(value, Decimal) else Decimal(value)
