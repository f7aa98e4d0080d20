"""Suggested meters for each blueprint, and a helper that creates them.

Each blueprint module documents its event structure and defines ``suggested_meters()``; this
module collects them under their CLI names (``meterbase blueprints create-meters``):

========================  =====================  =============================================
blueprint                 default event name     suggested meters
========================  =====================  =============================================
``llm``                   ``llm_usage``          sum ``inputTokens``, ``outputTokens``, ``totalTokens``
``api-gateway``           ``api_call``           count
``object-storage``        ``object_storage``     sum ``bytes`` where ``operation`` = upload / download
(snapshots)               ``storage.snapshot``   last ``bytes`` (current storage used)
``stream``                ``stream_consumption`` sum ``bytes``
``time-range``            ``time_range_usage``   sum ``durationMs`` (or seconds / minutes)
========================  =====================  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Meterbase


@dataclass(frozen=True)
class SuggestedMeter:
    blueprint: str
    name: str
    event_name: str
    aggregation: str
    key: str | None
    measurement_unit: str
    description: str
    filter: dict | None = field(default=None)
    params: dict | None = field(default=None)  # extra aggregation parameters (time_weighted: mode, per)

    def body(self) -> dict:
        """The ``POST /v1/meters`` body (also what ``Store.create_meter`` takes)."""
        body = {"name": self.name, "event_name": self.event_name,
                "aggregation": {"type": self.aggregation, "key": self.key, **(self.params or {})},
                "measurement_unit": self.measurement_unit, "description": self.description}
        if self.filter is not None:
            body["filter"] = self.filter
        return body

    def matches(self, event_name: str, aggregation: str, key: str | None, filter: dict | None,
                params: dict | None = None) -> bool:
        """Whether an existing meter has this definition (names and labels aside)."""
        return (event_name, aggregation, key or None, filter or None, params or None) == (
            self.event_name, self.aggregation, self.key, self.filter, self.params)


def _registry() -> dict:
    from . import gateway, llm, storage, stream, time_range

    return {"llm": llm, "api-gateway": gateway, "object-storage": storage, "stream": stream,
            "time-range": time_range}


BLUEPRINTS = ("llm", "api-gateway", "object-storage", "stream", "time-range")
#: Event-name slots that ``event_names`` can override (object storage has two).
EVENT_SLOTS = ("llm", "api-gateway", "object-storage", "storage-snapshot", "stream", "time-range")


def canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    key = {"gateway": "api-gateway", "storage": "object-storage", "time": "time-range"}.get(key, key)
    if key not in BLUEPRINTS and key != "storage-snapshot":
        raise ValueError(f"unknown blueprint {name!r}; choose from {', '.join(BLUEPRINTS)}")
    return key


def suggested_meters(blueprints: Iterable[str] | None = None, *, event_names: dict[str, str] | None = None,
                     time_unit: str = "ms") -> list[SuggestedMeter]:
    """The suggested meters of ``blueprints`` (default: all five).

    ``event_names`` overrides default event names by slot (``EVENT_SLOTS``), e.g.
    ``{"llm": "chat_tokens", "storage-snapshot": "disk.snapshot"}``; ``time_unit`` is the
    time-range property summed: ``ms`` (durationMs), ``seconds`` or ``minutes``.
    """
    names = {canonical(k): v for k, v in (event_names or {}).items()}
    reg = _registry()
    out: list[SuggestedMeter] = []
    for bp in [canonical(b) for b in (blueprints or BLUEPRINTS)]:
        module = reg[bp]
        if bp == "object-storage":
            out += module.suggested_meters(names.get(bp), snapshot_event_name=names.get("storage-snapshot"))
        elif bp == "time-range":
            out += module.suggested_meters(names.get(bp), unit=time_unit)
        else:
            out += module.suggested_meters(names.get(bp))
    return out


def _same(meter: dict, s: SuggestedMeter) -> bool:
    agg = meter.get("aggregation") or {}
    params = {k: v for k, v in agg.items() if k not in ("type", "key") and v is not None}
    return s.matches(meter["event_name"], agg.get("type"), agg.get("key"), meter.get("filter"), params or None)


def create_suggested_meters(client: "Meterbase", blueprints: Iterable[str] | None = None, *,
                            event_names: dict[str, str] | None = None,
                            time_unit: str = "ms") -> list[tuple[dict, bool]]:
    """Create the suggested meters over HTTP; idempotent: a suggested meter whose definition (event
    name, aggregation, key, filter) matches an active meter is not created again. Returns
    ``(meter, created)`` pairs."""
    existing = client.meters(limit=1000)
    out = []
    for s in suggested_meters(blueprints, event_names=event_names, time_unit=time_unit):
        found = next((m for m in existing if _same(m, s)), None)
        if found is not None:
            out.append((found, False))
            continue
        meter = client.create_meter(s.name, s.event_name, s.aggregation, s.key, s.measurement_unit, s.filter,
                                    s.description, aggregation_params=s.params)
        existing.append(meter)
        out.append((meter, True))
    return out
