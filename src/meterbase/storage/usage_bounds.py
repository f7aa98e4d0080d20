"""How many rows a usage query would answer, read before the query runs (``meterbase.usage_limits``).

A usage answer holds one row per customer (per metadata group with ``group_by``) and one cell per
window in each row. These helpers count the rows cheaply, stopping at ``limit`` so that their own cost
is bounded too:

* :func:`count_customers` reads only the customer ids of the meter's rollups (whole UTC days from the
  day grain, the rest from the hour grain: a customer with an event in ``[start, end)`` has a bucket
  there), ``DISTINCT`` and ``LIMIT`` in SQL. The count may include a customer whose only events of an
  edge hour fall just outside the range (an upper bound, never an under-count). Customers whose events
  are not folded yet (after the fold watermark, ``storage.fold``) are added from the unfolded tail.
* :func:`count_groups` scans the raw events of the range (as the grouped query itself does) and
  collects the distinct ``(customer, group)`` keys, stopping as soon as there are ``limit`` of them.
"""

from __future__ import annotations

from sqlalchemy import select, union

from ..events.values import to_text
from ..meters.model import Meter
from ..meters.windows import HOUR_US, decompose
from . import events_repo
from .schema import GRAIN_CODES, meter_rollups as r


def count_customers(conn, meter: Meter, start: int, end: int, limit: int) -> int:
    """Distinct customers with rollups of ``meter`` in ``[start, end)``, counted up to ``limit``."""
    selects = []
    for grain, s, e in decompose(start, end):
        if grain == "raw":  # a sub-hour edge: the hour bucket holding it
            grain, s = "hour", (s // HOUR_US) * HOUR_US
        selects.append(select(r.c.customer_id).where(
            r.c.meter_id == meter.id, r.c.grain == GRAIN_CODES[grain], r.c.bucket >= s, r.c.bucket < e))
    if not selects:
        return 0
    ids = (union(*selects) if len(selects) > 1 else selects[0].distinct()).limit(limit).subquery()
    found = {c for (c,) in conn.execute(select(ids.c.customer_id))}
    if len(found) < limit:
        from .usage import folded_view, tail_events

        for _seq, cust, _ts, _meta in tail_events(conn, meter, folded_view(conn, meter.environment), None, [(start, end)]):
            found.add(cust)
            if len(found) >= limit:
                break
    return len(found)


def count_groups(conn, meter: Meter, start: int, end: int, customer_id: str | None, keys: list[str],
                 limit: int) -> int:
    """Distinct ``(customer, values of keys)`` among the events ``meter`` counts in ``[start, end)``,
    counted up to ``limit`` (the scan stops there)."""
    seen: set[tuple] = set()
    for _seq, cust, _ts, meta in events_repo.scan(conn, meter.environment, meter.event_name, start, end, customer_id):
        if not meter.predicate(meta):
            continue
        seen.add((cust, tuple(to_text(meta[k]) if k in meta else None for k in keys)))
        if len(seen) >= limit:
            break
    return len(seen)
