"""The shape of one aggregation: what a registry member declares (pure, no I/O).

An :class:`Aggregation` says everything the rest of meterbase needs to know about one meter
aggregation: its name, whether it reads a metadata key, its labels, how one event folds into a
:class:`~meterbase.meters.aggregate.Partial` (the mergeable state shared by rollups, raw scans and
brute force), how the meter value is read back from a partial, which rollup columns it needs (the
SQL that merges each column lives in ``storage/aggregation_sql.py``), and any extra parameters of
its definition (``time_weighted``'s ``mode`` and ``per``). The API schema, CLI help, rollups,
usage queries and dashboard labels are all derived from the members of the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...errors import ValidationError
from ...events.values import to_decimal

#: Rollup columns every member keeps (events matched, values rejected).
BASE_COLUMNS = ("events", "rejected")


@dataclass(frozen=True)
class Param:
    """An extra field of ``aggregation`` (besides ``type`` and ``key``) with its allowed values."""

    name: str
    choices: tuple[str, ...]
    default: str
    description: str

    def parse(self, raw: Any, agg_name: str) -> str:
        if raw is None:
            return self.default
        value = str(raw).lower() if isinstance(raw, str) else raw
        if value not in self.choices:
            raise ValidationError(f"aggregation.{self.name} of '{agg_name}' must be one of {', '.join(self.choices)}",
                                  f"aggregation.{self.name}")
        return value


@dataclass(frozen=True)
class Aggregation:
    """One member of the registry (see the module docstring)."""

    name: str
    order: int  # position in lists (API enum, CLI help)
    label: str  # display label, e.g. "Sum"
    description: str  # one line for API docs and CLI help
    needs_key: bool
    fold: Callable  # (partial, meter, metadata, ts_us, seq) -> None, for an event matching the meter
    read: Callable  # (partial) -> Decimal | None: the meter value of a partial
    numeric: bool = False  # reads a numeric property (missing/non-numeric values are rejected)
    columns: tuple[str, ...] = BASE_COLUMNS  # rollup columns read back (merge SQL: storage/aggregation_sql.py)
    rolled_up: bool = True  # False: no rollup rows; usage reads raw events (storage hook by name)
    distinct_values: bool = False  # keeps its values in the meter_distinct side table (not batchable)
    #: How a line of several customers combines on the dashboard: "merge" (partials merged exactly),
    #: "sum" (each customer's value added per window) or "lines" (one line per customer).
    combine: str = "merge"
    combined_label: str | None = "total"  # what the combined line means, e.g. "sum of each customer's max"
    additive: bool = False  # its value grows event by event (meters paid with credits)
    chart: str = "line"  # dashboard chart kind: "bar" where windows add up to the range's value
    params: tuple[Param, ...] = ()

    def parse_params(self, raw: dict) -> dict | None:
        """The extra parameters of a definition (``None`` when the member has none)."""
        if not self.params:
            for k in raw:
                if k not in ("type", "key"):
                    raise ValidationError(f"aggregation.{k} is not a parameter of '{self.name}'", f"aggregation.{k}")
            return None
        return {p.name: p.parse(raw.get(p.name), self.name) for p in self.params}


def numeric_fold(partial, meter, metadata: dict, ts: int, seq: int) -> None:
    """Fold the numeric value of ``meter.key`` (rejected when missing or not a number)."""
    d = to_decimal(metadata.get(meter.key))
    if d is None:
        partial.rejected += 1
    else:
        partial.add_value(d, ts, seq)


NUMERIC_COLUMNS = BASE_COLUMNS + ("n",)
