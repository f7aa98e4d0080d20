"""Read-only queries behind the web dashboard (counts, volumes, top lists, customers).

Every function takes an open connection (``Store.read()``) and the environment; nothing here writes.
Instants are UTC microseconds; bucketed counts use ``ts - ts % step`` so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select, text

from . import dialect, usage_time_weighted
from .keys_repo import ApiKey
from .schema import GRAIN_CODES, api_keys, events, meter_rollups, meters
from .schema_eventstore import event_names as tn


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    events: int
    first_ts: int
    last_ts: int


@dataclass(frozen=True)
class MeterStats:
    meter_id: str
    events: int  # events the meter counted (matched name and filter)
    rejected: int  # counted events whose value was missing or not numeric
    customers: int


def active_key(conn, key_id: str) -> ApiKey | None:
    """The API key with this id, unless revoked (sessions re-check their keys on every request)."""
    row = conn.execute(select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    return ApiKey(row.id, row.name, row.environment, row.prefix, bool(row.read_only), row.created_at, row.revoked_at)


def _range(start: int | None, end: int | None) -> list:
    conds = []
    if start is not None:
        conds.append(events.c.ts >= start)
    if end is not None:
        conds.append(events.c.ts < end)
    return conds


def count_events(conn, environment: str, start: int | None = None, end: int | None = None,
                 customer_id: str | None = None, event_name: str | None = None) -> int:
    conds = [events.c.environment == environment, *_range(start, end)]
    if customer_id:
        conds.append(events.c.customer_id == customer_id)
    if event_name:
        conds.append(events.c.event_name == event_name)
    return conn.execute(select(func.count()).select_from(events).where(*conds)).scalar_one()


def event_volume(conn, environment: str, start: int, end: int, step_us: int,
                 customer_id: str | None = None) -> list[tuple[int, int]]:
    """``(bucket_start, events)`` per ``step_us`` bucket (UTC-aligned) with at least one event."""
    bucket = (events.c.ts - events.c.ts % step_us).label("bucket")
    conds = [events.c.environment == environment, *_range(start, end)]
    if customer_id:
        conds.append(events.c.customer_id == customer_id)
    q = select(bucket, func.count()).where(*conds).group_by(bucket).order_by(bucket)
    return [(int(b), int(n)) for b, n in conn.execute(q)]


def top_customers(conn, environment: str, start: int, end: int, limit: int = 10) -> list[tuple[str, int]]:
    n = func.count().label("n")
    q = (
        select(events.c.customer_id, n)
        .where(events.c.environment == environment, *_range(start, end))
        .group_by(events.c.customer_id)
        .order_by(n.desc(), events.c.customer_id)
        .limit(limit)
    )
    return [(c, int(k)) for c, k in conn.execute(q)]


def customers(conn, environment: str, limit: int = 100, offset: int = 0, search: str | None = None) -> list[CustomerRow]:
    """Customers = distinct ``customer_id`` seen in events (until billing keeps its own records)."""
    n = func.count().label("n")
    q = select(events.c.customer_id, n, func.min(events.c.ts), func.max(events.c.ts)).where(
        events.c.environment == environment
    )
    if search:
        q = q.where(events.c.customer_id.contains(search, autoescape=True))
    q = q.group_by(events.c.customer_id).order_by(events.c.customer_id).offset(offset).limit(limit)
    return [CustomerRow(c, int(k), int(a), int(b)) for c, k, a, b in conn.execute(q)]


def count_customers(conn, environment: str, start: int | None = None, end: int | None = None) -> int:
    sub = select(events.c.customer_id).where(events.c.environment == environment, *_range(start, end)).distinct().subquery()
    return conn.execute(select(func.count()).select_from(sub)).scalar_one()


def customer(conn, environment: str, customer_id: str) -> CustomerRow | None:
    row = conn.execute(
        select(func.count(), func.min(events.c.ts), func.max(events.c.ts)).where(
            events.c.environment == environment, events.c.customer_id == customer_id
        )
    ).first()
    if not row or not row[0]:
        return None
    return CustomerRow(customer_id, int(row[0]), int(row[1]), int(row[2]))


def customer_event_names(conn, environment: str, customer_id: str) -> list[tuple[str, int]]:
    n = func.count().label("n")
    q = (
        select(events.c.event_name, n)
        .where(events.c.environment == environment, events.c.customer_id == customer_id)
        .group_by(events.c.event_name)
        .order_by(n.desc(), events.c.event_name)
    )
    return [(name, int(k)) for name, k in conn.execute(q)]


def event_names(conn, environment: str, limit: int = 500) -> list[str]:
    """The first ``limit`` event names of ``environment``, sorted: the folded ones from ``event_names`` (kept
    by the folder), plus the names of the unfolded tail (read through the seq order, not the whole log)."""
    from .usage import folded_view

    mark = folded_view(conn, environment)
    folded = conn.execute(select(tn.c.event_name).where(tn.c.environment == environment)
                          .order_by(tn.c.event_name).limit(limit)).scalars().all()
    source, cond = dialect.seq_range_from(conn)
    tail = conn.execute(text(f"SELECT DISTINCT event_name FROM {source} WHERE {cond} AND environment = :env"),
                        {"after": mark, "env": environment}).scalars().all()
    return sorted(set(folded) | set(tail))[:limit]


def meter_stats(conn, environment: str, start_day: int, end: int | None = None) -> dict[str, MeterStats]:
    """Per meter of ``environment``: events counted, rejected values and customers, from day rollups
    whose bucket starts at or after ``start_day`` (a UTC midnight) and before ``end``, plus the events
    after the fold watermark (read through the event store), so the figures include every acked event."""
    folded = _meter_stats_folded(conn, environment, start_day, end)
    return _with_tail(conn, environment, folded, start_day, end)


def _with_tail(conn, environment: str, folded: dict[str, MeterStats], start_day: int, end: int | None) -> dict[str, MeterStats]:
    from .rollups import accumulate
    from .sql_event_store import event_store_for
    from .usage import folded_view

    es = event_store_for(conn)
    mark = folded_view(conn, environment)
    tail = [row for row in es.tail(conn, environment, mark) if row[3] >= start_day and (end is None or row[3] < end)]
    if not tail:
        return folded
    by_name = es.meters_for(conn, environment, {row[2] for row in tail})
    partials, _ = accumulate(by_name, tail)
    day = GRAIN_CODES["day"]
    extra: dict[str, list] = {}  # meter_id -> [events, rejected, tail customers]
    for (meter_id, grain, cust, _bucket), p in partials.items():
        if grain == day:
            acc = extra.setdefault(meter_id, [0, 0, set()])
            acc[0] += p.events
            acc[1] += p.rejected
            if p.events:
                acc[2].add(cust)
    out = dict(folded)
    r = meter_rollups
    for meter_id, (ev, rej, custs) in extra.items():
        conds = [r.c.meter_id == meter_id, r.c.grain == day, r.c.bucket >= start_day, r.c.customer_id.in_(sorted(custs))]
        if end is not None:
            conds.append(r.c.bucket < end)
        known = {c for (c,) in conn.execute(select(r.c.customer_id).where(*conds).distinct())}
        base = out.get(meter_id, MeterStats(meter_id, 0, 0, 0))
        out[meter_id] = MeterStats(meter_id, base.events + ev, base.rejected + rej, base.customers + len(custs - known))
    return out


def _meter_stats_folded(conn, environment: str, start_day: int, end: int | None = None) -> dict[str, MeterStats]:
    r = meter_rollups
    conds = [r.c.grain == GRAIN_CODES["day"], r.c.bucket >= start_day, meters.c.environment == environment]
    if end is not None:
        conds.append(r.c.bucket < end)
    q = (
        select(r.c.meter_id, func.sum(r.c.events), func.sum(r.c.rejected), func.count(func.distinct(r.c.customer_id)))
        .select_from(r.join(meters, and_(meters.c.id == r.c.meter_id)))
        .where(*conds)
        .group_by(r.c.meter_id)
    )
    out = {m: MeterStats(m, int(e or 0), int(x or 0), int(c or 0)) for m, e, x, c in conn.execute(q)}
    for m, (e, x, c) in usage_time_weighted.dashboard_stats(conn, environment, start_day, end).items():
        out[m] = MeterStats(m, e, x, c)  # meters without rollups (time_weighted): from raw events
    return out


def meter_customers(conn, meter_id: str, limit: int = 500, meter=None) -> list[str]:
    """Customers with usage on this meter (any time), from day rollups (raw events for a meter without them),
    plus those of the unfolded tail when the ``meter`` itself is given."""
    raw = usage_time_weighted.dashboard_customers(conn, None, meter_id, limit)
    if raw is not None:
        return raw
    r = meter_rollups
    q = (
        select(r.c.customer_id)
        .where(r.c.meter_id == meter_id, r.c.grain == GRAIN_CODES["day"])
        .group_by(r.c.customer_id)
        .order_by(r.c.customer_id)
        .limit(limit)
    )
    found = [c for (c,) in conn.execute(q)]
    if meter is None:
        return found
    from .usage import folded_view, tail_events

    mark = folded_view(conn, meter.environment)
    more = {cust for _seq, cust, _ts, _meta in tail_events(conn, meter, mark, None, [(-2**62, 2**62)])}
    return sorted(set(found) | more)[:limit]
