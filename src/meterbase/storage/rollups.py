"""Rollups: per meter, customer and UTC hour/day bucket, a mergeable partial of the folded events.

The folder (``storage.fold``) writes them for the events up to the fold watermark. A usage query
reads whole buckets from here, the unfolded tail and the sub-hour edges of its range from the events,
so its cost follows the buckets asked for and the tail, not the number of events stored.
"""

from __future__ import annotations

from itertools import groupby
from operator import attrgetter, itemgetter

from sqlalchemy import bindparam, select

from ..events.model import Event
from ..meters.aggregate import Partial
from ..meters.model import Meter
from ..meters.windows import GRAINS
from . import aggregation_sql, dialect, events_repo, upsert
from .schema import GRAIN_CODES, meter_distinct, meter_rollups as r
from .types import ExactDecimal

Key = tuple[str, int, str, int]  # (meter_id, grain code, customer_id, bucket)

_GRAIN_STEPS = [(GRAIN_CODES[name], step) for name, step in GRAINS.items()]
_HOUR, _HOUR_US = GRAIN_CODES["hour"], GRAINS["hour"]
_DAY, _DAY_US = GRAIN_CODES["day"], GRAINS["day"]


def _plan(meters_by_name: dict[str, list[Meter]]) -> dict[str, list[tuple]]:
    """Per event name, its rolled-up meters as ``(meter, id, fold, predicate or None)`` (looked up once per chunk)."""
    plan: dict[str, list[tuple]] = {}
    for name, ms in meters_by_name.items():
        steps = [(m, m.id, m.agg.fold, m.predicate if m.spec.filter else None) for m in ms
                 if m.agg.rolled_up and m.event_name == name]  # (time_weighted keeps no rollup rows: raw reads)
        if steps:
            plan[name] = steps
    return plan


def accumulate(meters_by_name: dict[str, list[Meter]], events) -> tuple[dict[Key, Partial], set[tuple]]:
    """Fold ``(seq, customer_id, event_name, ts, metadata)`` into partials per rollup key.

    Each matching event folds once, into its hour partial (the registry member's fold: one value
    parse per event and meter); each day partial is then the merge of that day's hour partials
    (``Partial.merge``, the algebra the rollups already rely on), so no event is folded twice.
    A day with a single hour partial shares that object (rows are only read from here on).
    """
    plan = _plan(meters_by_name)
    hours: dict[Key, Partial] = {}
    get = hours.get
    for seq, customer_id, event_name, ts, metadata in events:
        steps = plan.get(event_name)
        if steps is None:
            continue
        bucket = ts - ts % _HOUR_US
        for meter, meter_id, fold, predicate in steps:
            if predicate is not None and not predicate(metadata):
                continue
            key = (meter_id, _HOUR, customer_id, bucket)
            p = get(key)
            if p is None:
                p = hours[key] = Partial()
            p.events += 1
            fold(p, meter, metadata, ts, seq)
    partials: dict[Key, Partial] = dict(hours)
    owned: set[Key] = set()  # day partials built here (the others are still their single hour's object)
    for (meter_id, _grain, cust, bucket), p in hours.items():
        key = (meter_id, _DAY, cust, bucket - bucket % _DAY_US)
        d = partials.get(key)
        if d is None:
            partials[key] = p
            continue
        if key not in owned:
            d = partials[key] = Partial().merge(d)
            owned.add(key)
        d.merge(p)
    distinct: set[tuple] = set()
    if any(m.agg.distinct_values for steps in plan.values() for m, *_ in steps):
        for (meter_id, code, cust, bucket), p in partials.items():
            for value in p.distinct or ():
                distinct.add((meter_id, code, cust, bucket, value))
    return partials, distinct


#: The rollup key: the primary key, and the order rows are written in.
KEY = ("meter_id", "grain", "customer_id", "bucket")
_DECIMALS = frozenset(c.name for c in r.c if isinstance(c.type, ExactDecimal))


def _upsert_stmt(conn, columns: tuple[str, ...]):
    """The upsert of rows carrying ``columns`` (after the key): per-column merge SQL and the constants of the
    other columns, derived from the registry (``aggregation_sql``)."""
    ins = dialect.insert(conn, r).values({c: bindparam(c) if c in KEY or c in columns else aggregation_sql.neutral(c)
                                          for c in r.c.keys()})
    return ins.on_conflict_do_update(index_elements=list(KEY), set_=aggregation_sql.upsert_set(r, ins.excluded, columns))


#: ``(rollup rows per column set, distinct rows)``: what :func:`rows` builds and :func:`write_rows` writes.
Rows = tuple[list[tuple[tuple[str, ...], list[tuple]]], list[tuple]]


def rows(conn, meters_by_name: dict[str, list[Meter]], partials: dict[Key, Partial], distinct: set[tuple]) -> Rows:
    """The driver rows :func:`write_rows` writes, sorted by key (one lock order, no deadlocks): per column
    set of the meters' members (``aggregation_sql.member_columns``), the key and those columns of each
    partial; and the distinct values. Pure Python: the SQLite folder builds them before the write lock."""
    order = {c: i for i, c in enumerate(r.c.keys())}  # columns in table order: the statement's, no reordering
    sets: dict[str, tuple[str, ...]] = {}
    for ms in meters_by_name.values():
        for m in ms:
            sets[m.id] = tuple(sorted(aggregation_sql.member_columns(m.agg), key=order.__getitem__))
    groups: dict[tuple[str, ...], list[Key]] = {}
    for meter_id, keys in groupby(sorted(partials), itemgetter(0)):  # a meter's keys are one sorted run
        groups.setdefault(sets[meter_id], []).extend(keys)
    dec = dialect.decimal_param(conn)
    out = []
    for columns in sorted(groups):
        keys = groups[columns]
        ps = list(map(partials.__getitem__, keys))
        values = [map(dec, map(attrgetter(c), ps)) if c in _DECIMALS else map(attrgetter(c), ps) for c in columns]
        out.append((columns, list(map(tuple.__add__, keys, zip(*values)))))  # column by column, no per-row Python
    return out, sorted(distinct)


def write_rows(conn, prepared: Rows) -> None:
    """Upsert the rows of :func:`rows` (merged into the stored partials: one statement per column set) and
    insert the distinct values."""
    rollup_groups, distinct_rows = prepared
    for columns, group in rollup_groups:
        upsert.execute_many(conn, "rollup_upsert:" + ",".join(columns), lambda: _upsert_stmt(conn, columns), group,
                            arrays=True, columns=KEY + columns)
    if distinct_rows:
        upsert.execute_many(conn, "distinct_insert", lambda: dialect.insert(conn, meter_distinct).on_conflict_do_nothing(),
                            distinct_rows, columns=("meter_id", "grain", "customer_id", "bucket", "value"))


def write(conn, meters_by_name: dict[str, list[Meter]], partials: dict[Key, Partial], distinct: set[tuple]) -> None:
    """Write the partials of :func:`accumulate` (over ``meters_by_name``)."""
    write_rows(conn, rows(conn, meters_by_name, partials, distinct))


def apply_events(conn, meters_by_name: dict[str, list[Meter]], new_events: list[tuple[int, Event]]) -> None:
    """Fold stored events into every matching meter's rollups (only for events at or below the watermark)."""
    if not meters_by_name or not new_events:
        return
    partials, distinct = accumulate(
        meters_by_name, ((seq, e.customer_id, e.event_name, e.ts_us, e.metadata) for seq, e in new_events)
    )
    write(conn, meters_by_name, partials, distinct)


def backfill(conn, meter: Meter, chunk: int = 20_000, upto: int | None = None) -> int:
    """Build a new meter's rollups from the events stored (with ``seq <= upto``). Returns events read."""
    if not meter.agg.rolled_up:
        return 0
    by_name = {meter.event_name: [meter]}
    total, after = 0, 0
    while True:
        rows = events_repo.scan_by_seq(conn, meter.environment, meter.event_name, after, chunk, upto)
        if not rows:
            return total
        write(conn, by_name, *accumulate(by_name, ((seq, cust, meter.event_name, ts, meta) for seq, cust, ts, meta in rows)))
        total += len(rows)
        after = rows[-1][0]


def read(conn, meter: Meter, grain: str, start: int, end: int, customer_id: str | None):
    """Yield ``(customer_id, bucket, Partial)`` for whole buckets in ``[start, end)``."""
    code = GRAIN_CODES[grain]
    conds = [r.c.meter_id == meter.id, r.c.grain == code, r.c.bucket >= start, r.c.bucket < end]
    if customer_id is not None:
        conds.append(r.c.customer_id == customer_id)
    q = select(
        r.c.customer_id, r.c.bucket, r.c.events, r.c.n, r.c.sum, r.c.min, r.c.max,
        r.c.last_ts, r.c.last_seq, r.c.last_value, r.c.rejected,
    ).where(*conds)
    for cust, bucket, events, n, s, mn, mx, lts, lseq, lval, rej in conn.execute(q):
        yield cust, bucket, Partial(events=events, n=n, sum=s, min=mn, max=mx, last_ts=lts, last_seq=lseq, last_value=lval, rejected=rej)
    if meter.agg.distinct_values:
        d = meter_distinct
        dconds = [d.c.meter_id == meter.id, d.c.grain == code, d.c.bucket >= start, d.c.bucket < end]
        if customer_id is not None:
            dconds.append(d.c.customer_id == customer_id)
        for cust, bucket, value in conn.execute(select(d.c.customer_id, d.c.bucket, d.c.value).where(*dconds)):
            yield cust, bucket, Partial(distinct={value})
