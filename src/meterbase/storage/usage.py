"""Usage queries: meter values per customer (and metadata group) per time window.

Whole UTC hours and days come from rollups, which hold the events up to the fold watermark
(``storage.fold``); the events after it (the unfolded tail, read in seq order) are added to the
buckets they fall in, so an answer includes every acknowledged event exactly once whether or not it
has been folded (read-your-writes). Sub-hour edges of the range (and queries that group by metadata
keys, which rollups do not carry) scan raw events of every seq.

:func:`folded_view` reads the watermark in a view consistent with the rollups: a snapshot on SQLite;
on PostgreSQL (READ COMMITTED) the shared fold lock, which no folder commit can cross until this
transaction ends.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from ..events.values import to_text
from ..meters.aggregate import Partial
from ..meters.model import Meter
from ..meters.windows import plan, windows
from . import events_repo, fold, locks, rollups, usage_time_weighted

MAX_GROUP_KEYS = 5


@dataclass
class Series:
    customer_id: str
    group: dict | None
    windows: list[Partial] = field(default_factory=list)

    def total(self) -> Partial:
        acc = Partial()
        for p in self.windows:
            acc.merge(p)
        return acc


@dataclass
class UsageResult:
    meter: Meter
    start: int
    end: int
    window: str
    tz: str
    bounds: list[tuple[int, int]]
    series: list[Series]


def query_usage(
    conn,
    meter: Meter,
    start: int,
    end: int,
    window: str = "day",
    tz: str = "UTC",
    customer_id: str | None = None,
    group_by: list[str] | None = None,
) -> UsageResult:
    bounds = windows(start, end, window, tz)
    series = _aggregate(conn, meter, bounds, customer_id, group_by)
    return UsageResult(meter=meter, start=start, end=end, window=window, tz=tz, bounds=bounds, series=series)


def meter_total(conn, meter: Meter, start: int, end: int, customer_id: str) -> Partial:
    """One customer's partial over an arbitrary ``[start, end)`` (e.g. a billing period)."""
    series = _aggregate(conn, meter, [(start, end)], customer_id, None)
    return series[0].windows[0] if series else Partial()


def meter_totals(conn, meter: Meter, start: int, end: int) -> dict[str, Partial]:
    """Every customer's partial over ``[start, end)`` in one pass (customers without usage are absent).

    Reads the day/hour rollups of all customers at once and scans raw events only for sub-hour
    edges, so a window shared by many customers (an invoice run) costs a few queries, not one per
    customer. Each partial equals ``meter_total`` of that customer over the same range.
    """
    return {s.customer_id: s.windows[0] for s in _aggregate(conn, meter, [(start, end)], None, None)}


def folded_view(conn, environment: str) -> int:
    """The fold watermark, with rollups and watermark held still for the rest of ``conn``'s transaction."""
    locks.fold_shared(conn, environment)
    return fold.watermark(conn, environment)


def tail_events(conn, meter: Meter, after: int, customer_id: str | None, ranges: list[tuple[int, int]]):
    """``(seq, customer_id, ts, metadata)`` of the meter's events after the watermark ``after`` that fall
    inside one of ``ranges`` (the whole buckets read from rollups) and match its filter."""
    if not ranges:
        return
    ranges = sorted(ranges)
    starts = [s for s, _ in ranges]
    for seq, cust, _name, ts, meta in events_repo.scan_tail(conn, meter.environment, meter.event_name, after, customer_id):
        i = bisect_right(starts, ts) - 1
        if i >= 0 and ts < ranges[i][1] and meter.predicate(meta):
            yield seq, cust, ts, meta


def _aggregate(conn, meter: Meter, bounds: list[tuple[int, int]], customer_id: str | None,
               group_by: list[str] | None) -> list[Series]:
    starts = [ws for ws, _ in bounds]
    nwin = len(bounds)
    series: dict[tuple, list[Partial]] = defaultdict(lambda: [Partial() for _ in range(nwin)])

    def slot(instant: int) -> int:
        return bisect_right(starts, instant) - 1

    keys = tuple(group_by or ())
    if not meter.agg.rolled_up:  # hook: time_weighted reads its raw events (storage/usage_time_weighted.py)
        series.update(usage_time_weighted.aggregate(conn, meter, bounds, customer_id, group_by))
        ranges = {"raw": [], "hour": [], "day": []}
    elif group_by:
        ranges = {"raw": [(bounds[0][0], bounds[-1][1])], "hour": [], "day": []}
    else:
        ranges = plan(bounds)
    whole = ranges["day"] + ranges["hour"]
    mark = folded_view(conn, meter.environment) if whole else 0
    for grain in ("day", "hour"):
        for s, e in ranges[grain]:
            for cust, bucket, p in rollups.read(conn, meter, grain, s, e, customer_id):
                series[(cust, None)][slot(bucket)].merge(p)
    for seq, cust, ts, meta in tail_events(conn, meter, mark, customer_id, whole):
        series[(cust, None)][slot(ts)].add_event(meter, meta, ts, seq)
    for s, e in ranges["raw"]:
        for seq, cust, ts, meta in events_repo.scan(conn, meter.environment, meter.event_name, s, e, customer_id):
            if not meter.predicate(meta):
                continue
            gkey = tuple(to_text(meta[k]) if k in meta else None for k in keys) if keys else None
            series[(cust, gkey)][slot(ts)].add_event(meter, meta, ts, seq)
    if customer_id is not None and not series:
        series[(customer_id, None)]  # an empty series still reports zero/None per window
    return [
        Series(customer_id=cust, group=dict(zip(keys, g)) if g is not None else None, windows=ps)
        for (cust, g), ps in sorted(series.items(), key=lambda kv: (kv[0][0], tuple("" if v is None else v for v in (kv[0][1] or ()))))
    ]
