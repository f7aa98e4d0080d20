"""JSON shapes of domain objects (Dodo-compatible field names where Dodo has the object)."""

from __future__ import annotations

from ..events.values import decimal_text
from ..meters.model import Meter
from ..storage.usage import UsageResult
from ..timeutil import iso_us
from ..usage_limits import is_empty


def event_json(ev: dict, business_id: str) -> dict:
    return {
        "business_id": business_id,
        "event_id": ev["event_id"],
        "customer_id": ev["customer_id"],
        "event_name": ev["event_name"],
        "timestamp": iso_us(ev["ts"]),
        "metadata": ev["metadata"],
        "ingested_at": iso_us(ev["ingested_at"]),
    }


def meter_json(m: Meter, business_id: str) -> dict:
    s = m.spec
    return {
        "id": m.id,
        "business_id": business_id,
        "name": s.name,
        "description": s.description,
        "event_name": s.event_name,
        "aggregation": {"type": s.aggregation, "key": s.aggregation_key, **(s.aggregation_params or {})},
        "measurement_unit": s.measurement_unit,
        "filter": s.filter,
        "archived": m.archived,
        "environment": m.environment,
        "created_at": iso_us(m.created_us),
        "updated_at": iso_us(m.updated_us),
    }


def _value(v) -> str | None:
    return None if v is None else decimal_text(v)


def usage_json(u: UsageResult, sparse: bool = False) -> dict:
    """The usage document; ``sparse`` omits the windows in which no event counted."""
    agg = u.meter.aggregation
    doc = {
        "meter_id": u.meter.id,
        "aggregation": agg,
        "measurement_unit": u.meter.spec.measurement_unit,
        "from": iso_us(u.start),
        "to": iso_us(u.end),
        "window": u.window,
        "tz": u.tz,
        "data": [
            {
                "customer_id": s.customer_id,
                "group": s.group,
                "value": _value((total := s.total()).value(agg)),
                "events": total.events,
                "rejected": total.rejected,
                "windows": [
                    {"start": iso_us(ws), "end": iso_us(we), "value": _value(p.value(agg))}
                    for (ws, we), p in zip(u.bounds, s.windows) if not (sparse and is_empty(p))
                ],
            }
            for s in u.series
        ],
        "sparse": sparse,
    }
    return doc
