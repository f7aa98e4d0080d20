"""Mergeable partial aggregates: the algebra shared by rollups, raw scans and brute force.

A :class:`Partial` summarises any set of events for one meter. Partials of disjoint event sets
merge associatively, which is what lets hour/day rollups stand in for raw events. How an event
folds in and how the value reads out belong to the meter's registry member (``meters.aggregations``);
the partial is the state they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..exact import EXACT
from .aggregations import REGISTRY
from .model import Meter

ZERO = Decimal(0)


@dataclass(slots=True)
class Partial:
    events: int = 0  # events that matched the meter's name and filter
    n: int = 0  # numeric values aggregated
    sum: Decimal = ZERO
    min: Decimal | None = None
    max: Decimal | None = None
    last_ts: int = -1
    last_seq: int = -1
    last_value: Decimal | None = None
    rejected: int = 0  # matched events whose property was missing or not numeric
    distinct: set[str] | None = field(default=None)
    tw: Decimal | None = None  # time_weighted: integral of the level, value·µs (exact)
    tw_per: str = "hour"  # time_weighted: the unit the integral is divided by

    def add_value(self, d: Decimal, ts: int, seq: int) -> None:
        self.n += 1
        self.sum = EXACT.add(self.sum, d)
        if self.min is None or d < self.min:
            self.min = d
        if self.max is None or d > self.max:
            self.max = d
        if (ts, seq) >= (self.last_ts, self.last_seq):
            self.last_ts, self.last_seq, self.last_value = ts, seq, d

    def add_event(self, meter: Meter, metadata: dict, ts: int, seq: int) -> None:
        """Fold one event that already matched ``meter`` (name and filter): the registry member's fold."""
        self.events += 1
        meter.agg.fold(self, meter, metadata, ts, seq)

    def merge(self, other: "Partial") -> "Partial":
        self.events += other.events
        self.rejected += other.rejected
        if other.n:
            self.n += other.n
            self.sum = EXACT.add(self.sum, other.sum)
            if self.min is None or (other.min is not None and other.min < self.min):
                self.min = other.min
            if self.max is None or (other.max is not None and other.max > self.max):
                self.max = other.max
            if (other.last_ts, other.last_seq) >= (self.last_ts, self.last_seq):
                self.last_ts, self.last_seq, self.last_value = other.last_ts, other.last_seq, other.last_value
        if other.tw is not None:  # integrals over disjoint time add up
            self.tw = other.tw if self.tw is None else EXACT.add(self.tw, other.tw)
            self.tw_per = other.tw_per
        if other.distinct:
            if self.distinct is None:
                self.distinct = set()
            self.distinct |= other.distinct
        return self

    def value(self, aggregation: str) -> Decimal | None:
        """The meter value; ``None`` where the aggregation has no value over an empty set."""
        member = REGISTRY.get(aggregation)
        if member is None:
            raise ValueError(f"unknown aggregation {aggregation!r}")
        return member.read(self)


def matches(meter: Meter, event_name: str, metadata: dict) -> bool:
    return event_name == meter.event_name and meter.predicate(metadata)


def brute_force(meter: Meter, events) -> Partial:
    """Reference aggregation over ``(event_name, metadata, ts, seq)`` tuples (for tests and audits)."""
    p = Partial()
    for name, metadata, ts, seq in events:
        if matches(meter, name, metadata):
            p.add_event(meter, metadata, ts, seq)
    return p
