"""Usage of ``time_weighted`` meters, read from raw events (the meter keeps no rollup rows).

For each customer (and metadata group) the level at the range's start comes from the events before it
-- ``gauge``: the latest matching event with a numeric value, found by walking back from the start
through the ``(environment, customer_id, event_name, ts)`` index in chunks; ``delta``: the sum of
every earlier event -- and each window's integral from the events inside it, carried window to window.
Reading raw events is exact and sees late and out-of-order events wherever their timestamps put them.
The math is ``meters.aggregations.time_weighted``; this module only fetches the points.

Cost: one scan of the range's events, plus for ``gauge`` a short walk back (all customers: one statement
ranking each customer's earlier events on the index columns and reading the few latest); a ``delta``
meter or a ``group_by`` reads every earlier event of the event name (each opening level needs them).
"""

from __future__ import annotations

from collections import defaultdict

import orjson
from sqlalchemy import and_, func, or_, select

from ..events.values import to_decimal, to_text
from ..meters.aggregate import Partial
from ..meters.aggregations import REGISTRY
from ..meters.aggregations.time_weighted import integrate, opening_level
from ..meters.model import Meter
from . import events_repo
from .schema import events as ev, meters as mt

#: Earliest instant scanned for opening levels (events carry timestamps well after it).
EPOCH_MIN = -(2**62)
WALK_FIRST = 4  # the latest earlier event usually matches: read a few, then more (×4 up to WALK_CHUNK)
WALK_CHUNK = 1000

SeriesKey = tuple[str, tuple | None]


def _point(meter: Meter, meta: dict, ts: int, seq: int):
    d = to_decimal(meta.get(meter.key))
    return None if d is None else (ts, seq, d)


def _gkey(meta: dict, keys: tuple) -> tuple | None:
    return tuple(to_text(meta[k]) if k in meta else None for k in keys) if keys else None


def _last_before(conn, meter: Meter, customer_id: str, start: int, cursor: tuple | None = None):
    """The latest matching numeric point of one customer before ``start`` (walking back by ``(ts, seq)``,
    from ``cursor`` when given: the ``(ts, seq)`` of the last event already looked at)."""
    chunk = WALK_FIRST
    while True:
        conds = [ev.c.environment == meter.environment, ev.c.customer_id == customer_id,
                 ev.c.event_name == meter.event_name, ev.c.ts < start]
        if cursor is not None:
            conds.append(or_(ev.c.ts < cursor[0], and_(ev.c.ts == cursor[0], ev.c.seq < cursor[1])))
        q = (select(ev.c.seq, ev.c.ts, ev.c.metadata).where(*conds)
             .order_by(ev.c.ts.desc(), ev.c.seq.desc()).limit(chunk))
        rows = conn.execute(q).all()
        for seq, ts, meta in rows:
            meta = orjson.loads(meta)
            if meter.predicate(meta):
                pt = _point(meter, meta, ts, seq)
                if pt is not None:
                    return pt
        if len(rows) < chunk:
            return None
        cursor, chunk = (rows[-1][1], rows[-1][0]), min(chunk * 4, WALK_CHUNK)


def _last_before_all(conn, meter: Meter, start: int) -> dict[str, tuple]:
    """Every customer's latest matching numeric point before ``start``, in one statement: each customer's
    ``WALK_FIRST`` latest earlier events (ranked on the index columns, metadata read for those only), then
    a walk back for a customer none of whose candidates matched."""
    ranked = (select(ev.c.seq, func.row_number().over(partition_by=ev.c.customer_id,
                                                      order_by=(ev.c.ts.desc(), ev.c.seq.desc())).label("rn"))
              .where(ev.c.environment == meter.environment, ev.c.event_name == meter.event_name, ev.c.ts < start)
              .subquery())
    q = (select(ev.c.customer_id, ev.c.seq, ev.c.ts, ev.c.metadata).join(ranked, ranked.c.seq == ev.c.seq)
         .where(ranked.c.rn <= WALK_FIRST).order_by(ev.c.customer_id, ev.c.ts.desc(), ev.c.seq.desc()))
    found: dict[str, tuple] = {}
    seen: dict[str, list] = {}
    for cust, seq, ts, meta in conn.execute(q):
        rows = seen.setdefault(cust, [])
        rows.append((ts, seq))
        if cust in found:
            continue
        meta = orjson.loads(meta)
        if meter.predicate(meta):
            pt = _point(meter, meta, ts, seq)
            if pt is not None:
                found[cust] = pt
    for cust, rows in seen.items():
        if cust not in found and len(rows) == WALK_FIRST:  # older events may still match
            pt = _last_before(conn, meter, cust, start, rows[-1])
            if pt is not None:
                found[cust] = pt
    return found


def aggregate(conn, meter: Meter, bounds: list[tuple[int, int]], customer_id: str | None,
              group_by: list[str] | None) -> dict[SeriesKey, list[Partial]]:
    """Per ``(customer, group)``: one :class:`Partial` per window of ``bounds`` (consecutive windows)."""
    mode, per = meter.params.get("mode", "gauge"), meter.params.get("per", "hour")
    keys = tuple(group_by or ())
    start, end = bounds[0][0], bounds[-1][1]
    before: dict[SeriesKey, list] = defaultdict(list)
    inside: dict[SeriesKey, list] = defaultdict(list)
    counts: dict[SeriesKey, list] = defaultdict(list)  # (ts, rejected?) of every matching event inside
    if mode == "gauge" and not keys:  # each customer's latest earlier value, not the whole history
        if customer_id is not None:
            pt = _last_before(conn, meter, customer_id, start)
            found = {customer_id: pt} if pt is not None else {}
        else:
            found = _last_before_all(conn, meter, start)
        for cust, pt in found.items():
            before[(cust, None)] = [pt]
    else:
        for seq, cust, ts, meta in events_repo.scan(conn, meter.environment, meter.event_name, EPOCH_MIN, start,
                                                    customer_id):
            if meter.predicate(meta):
                pt = _point(meter, meta, ts, seq)
                if pt is not None:
                    before[(cust, _gkey(meta, keys))].append(pt)
    for seq, cust, ts, meta in events_repo.scan(conn, meter.environment, meter.event_name, start, end, customer_id):
        if not meter.predicate(meta):
            continue
        k = (cust, _gkey(meta, keys))
        pt = _point(meter, meta, ts, seq)
        counts[k].append((ts, pt is None))
        if pt is not None:
            inside[k].append(pt)
    out: dict[SeriesKey, list[Partial]] = {}
    for k in set(before) | set(inside) | set(counts):
        level = opening_level(before.get(k, ()), mode)
        pts = sorted(inside.get(k, ()), key=lambda p: (p[0], p[1]))
        evs = sorted(counts.get(k, ()))
        parts, i, c = [], 0, 0
        for ws, we in bounds:  # consecutive windows: one pass over the sorted points
            j = i
            while j < len(pts) and pts[j][0] < we:
                j += 1
            integral, level = integrate(level, pts[i:j], ws, we, mode)
            i = j
            d = c
            while d < len(evs) and evs[d][0] < we:
                d += 1
            rejected = sum(rej for _, rej in evs[c:d])
            parts.append(Partial(events=d - c, n=d - c - rejected, rejected=rejected, tw=integral, tw_per=per))
            c = d
        out[k] = parts
    return out


def _raw_meters(conn, environment: str, meter_id: str | None = None) -> list[Meter]:
    """This environment's meters that keep no rollups (their dashboard figures come from raw events)."""
    from . import meters_repo  # (import here: meters_repo is a sibling, and this module is imported by usage)

    names = [a.name for a in REGISTRY.values() if not a.rolled_up]
    q = select(mt.c.id).where(mt.c.environment == environment, mt.c.aggregation.in_(names))
    if meter_id is not None:
        q = q.where(mt.c.id == meter_id)
    return [meters_repo.get_meter(conn, environment, mid) for (mid,) in conn.execute(q)]


def dashboard_stats(conn, environment: str, start: int, end: int | None) -> dict[str, tuple[int, int, int]]:
    """``meter_id -> (events counted, rejected values, customers)`` in ``[start, end)`` for meters without
    rollups, from their raw events (the dashboard's 30-day figures)."""
    out = {}
    for meter in _raw_meters(conn, environment):
        events = rejected = 0
        customers = set()
        for _, cust, _, meta in events_repo.scan(conn, environment, meter.event_name, start,
                                                 end if end is not None else 2**62, None):
            if meter.predicate(meta):
                events += 1
                rejected += _point(meter, meta, 0, 0) is None
                customers.add(cust)
        if events:
            out[meter.id] = (events, rejected, len(customers))
    return out


def dashboard_customers(conn, environment: str | None, meter_id: str, limit: int) -> list[str] | None:
    """Customers with events of a meter without rollups (None when ``meter_id`` keeps rollups)."""
    row = conn.execute(select(mt.c.environment, mt.c.event_name, mt.c.aggregation).where(mt.c.id == meter_id)).first()
    if row is None or REGISTRY.get(row.aggregation) is None or REGISTRY[row.aggregation].rolled_up:
        return None
    q = (select(ev.c.customer_id).where(ev.c.environment == row.environment, ev.c.event_name == row.event_name)
         .group_by(ev.c.customer_id).order_by(ev.c.customer_id).limit(limit))
    return [c for (c,) in conn.execute(q)]
