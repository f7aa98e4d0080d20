"""Meter definitions: what a meter aggregates, over which property, with which filter.

Every string and list of a definition is bounded, and a value past its bound is a ``ValidationError``
naming the field and the bound: ``name`` and ``event_name`` ≤ 255 characters (an event name longer
than the events' own limit could never match), ``description`` ≤ ``MAX_DESCRIPTION_LEN``,
``measurement_unit`` ≤ ``MAX_UNIT_LEN``, ``aggregation.key`` ≤ the metadata key limit, and the filter
within ``filters``' bounds (depth, clauses, ``in`` lists, keys and values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..events.model import MAX_ID_LEN, MAX_KEY_LEN
from ..events.validate import check_text_tree
from . import aggregations
from .filters import Predicate, compile_filter, parse_filter

#: Every aggregation name, from the registry (``meters/aggregations/``).
AGGREGATIONS = aggregations.NAMES
#: Aggregations that read a numeric property (non-numeric values are rejected, not crashed on).
NUMERIC_AGGREGATIONS = tuple(a.name for a in aggregations.REGISTRY.values() if a.numeric)
MAX_NAME_LEN = 255
MAX_DESCRIPTION_LEN = 1000
MAX_UNIT_LEN = 64


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """A meter definition as a client asks for it (immutable once created)."""

    name: str
    event_name: str
    aggregation: str
    aggregation_key: str | None
    measurement_unit: str
    description: str | None = None
    filter: dict | None = None
    #: Extra parameters of the aggregation (``time_weighted``: ``{"mode": ..., "per": ...}``), else None.
    aggregation_params: dict | None = None


@dataclass(slots=True)
class Meter:
    id: str
    environment: str
    spec: MeterSpec
    archived: bool
    created_us: int
    updated_us: int
    _predicate: Predicate | None = field(default=None, repr=False, compare=False)

    @property
    def predicate(self) -> Predicate:
        if self._predicate is None:
            self._predicate = compile_filter(self.spec.filter)
        return self._predicate

    @property
    def event_name(self) -> str:
        return self.spec.event_name

    @property
    def aggregation(self) -> str:
        return self.spec.aggregation

    @property
    def key(self) -> str | None:
        return self.spec.aggregation_key

    @property
    def agg(self) -> aggregations.Aggregation:
        """This meter's registry member."""
        return aggregations.REGISTRY[self.spec.aggregation]

    @property
    def params(self) -> dict:
        return self.spec.aggregation_params or {}


def _text(raw: dict, key: str, required: bool = True, max_len: int = MAX_NAME_LEN) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} is required and must be a non-empty string", key)
    if len(value) > max_len:
        raise ValidationError(f"{key} is longer than {max_len} characters", key)
    return value


def parse_meter_spec(raw: Any) -> MeterSpec:
    """Validate a meter definition; accepts Dodo's ``aggregation: {type, key}`` shape."""
    if not isinstance(raw, dict):
        raise ValidationError("meter definition must be an object", "body")
    check_text_tree(raw)  # no lone surrogates or NUL anywhere: every backend must be able to store it
    agg = raw.get("aggregation")
    if isinstance(agg, str):
        agg = {"type": agg, "key": raw.get("aggregation_key")}
    if not isinstance(agg, dict):
        raise ValidationError("aggregation must be an object like {'type': 'sum', 'key': 'tokens'}", "aggregation")
    agg_type = str(agg.get("type", "")).lower()
    member = aggregations.get(agg_type)
    key = agg.get("key")
    if not member.needs_key:
        key = key or None
    elif not isinstance(key, str) or not key:
        raise ValidationError(f"aggregation.key (the metadata property) is required for '{agg_type}'", "aggregation.key")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_KEY_LEN):
        raise ValidationError(f"aggregation.key must be a string of at most {MAX_KEY_LEN} characters "
                              "(the longest metadata key an event may carry)", "aggregation.key")
    return MeterSpec(
        name=_text(raw, "name"),
        event_name=_text(raw, "event_name", max_len=MAX_ID_LEN),
        aggregation=agg_type,
        aggregation_key=key,
        measurement_unit=_text(raw, "measurement_unit", required=False, max_len=MAX_UNIT_LEN) or "units",
        description=_description(raw.get("description")),
        filter=parse_filter(raw.get("filter")),
        aggregation_params=member.parse_params(agg),
    )


def _description(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError("description must be a string or null", "description")
    if value is not None and len(value) > MAX_DESCRIPTION_LEN:
        raise ValidationError(f"description is longer than {MAX_DESCRIPTION_LEN} characters", "description")
    return value


def parse_meter_labels(changes: Any) -> dict:
    """Validate a label update (``name``, ``description``, ``measurement_unit``; other keys are ignored).

    ``name`` and ``measurement_unit`` cannot be cleared (null leaves them as they are); ``description``
    may be set to null.
    """
    if not isinstance(changes, dict):
        raise ValidationError("meter changes must be an object", "body")
    out: dict = {}
    if changes.get("name") is not None:  # null (as Dodo's SDK may send) keeps the current value
        out["name"] = _text(changes, "name")
    if changes.get("measurement_unit") is not None:
        out["measurement_unit"] = _text(changes, "measurement_unit", max_len=MAX_UNIT_LEN)
    if "description" in changes:
        out["description"] = _description(changes["description"])
    check_text_tree(out)
    return out
