"""Credit cycles (pure): when a balance's cycles end, and how long rolled-over credits stay valid.

A balance may follow a :class:`Schedule` — a billing cycle (``anchor`` + ``count`` × day/week/month/
year, the same arithmetic as subscriptions: boundaries are ``anchor + k × cycle``, month ends
clamped) and optionally ``credits_per_cycle`` issued at the start of every cycle (what a
subscription's product attaches, within the subscription's life: ``starts_at`` / ``ends_at``). Cycle ends are
computed from the anchor and the clock, never by
a timer: the ledger settles every boundary that has passed, in order, the next time the balance is
touched (or when ``meterbase credits settle`` sweeps). Instants are µs since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..billing.periods import Cycle, parse_cycle
from ..errors import ValidationError
from ..periods import current_period, period_start
from ..timeutil import from_us, iso_us, parse_instant, to_us
from .amounts import parse_amount
from .entitlement import TIME_INTERVALS


@dataclass(frozen=True)
class Schedule:
    anchor: int
    cycle: Cycle
    credits_per_cycle: Decimal | None = None
    source_id: str | None = None
    starts_at: int | None = None  # a subscription's start: no credits for cycles ending before it
    ends_at: int | None = None  # a subscription's end: no credits for cycles starting at or after it

    def issues(self, start: int, end: int) -> bool:
        """Are ``credits_per_cycle`` issued for the cycle ``[start, end)`` (it overlaps the source's life)?"""
        return (self.credits_per_cycle is not None and (self.starts_at is None or end > self.starts_at)
                and (self.ends_at is None or start < self.ends_at))

    def period(self, at: int) -> tuple[int, int]:
        """The cycle ``[start, end)`` containing ``at``."""
        start, end = current_period(from_us(self.anchor), from_us(at), self.cycle.interval)
        return to_us(start), to_us(end)

    def next_boundary(self, after: int) -> int:
        """The first cycle end strictly after ``after``."""
        return self.period(after)[1]

    def to_dict(self, precision: int) -> dict[str, Any]:
        from .amounts import text

        return {"anchor": iso_us(self.anchor), "interval": self.cycle.unit, "interval_count": self.cycle.count,
                "credits_per_cycle": None if self.credits_per_cycle is None else text(self.credits_per_cycle, precision),
                "source_id": self.source_id, "starts_at": None if self.starts_at is None else iso_us(self.starts_at),
                "ends_at": None if self.ends_at is None else iso_us(self.ends_at)}


def parse_schedule(raw: Any, precision: int) -> Schedule:
    """``{anchor, interval?="month", interval_count?=1, credits_per_cycle?, source_id?}``."""
    if not isinstance(raw, dict):
        raise ValidationError("body must be a JSON object", "body")
    unknown = sorted(set(raw) - {"anchor", "interval", "interval_count", "credits_per_cycle", "source_id"})
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    anchor = raw.get("anchor")
    if not isinstance(anchor, str):
        raise ValidationError("anchor is required: the ISO-8601 instant cycles repeat from", "anchor")
    try:
        anchor_us = to_us(parse_instant(anchor))
    except (ValueError, OverflowError):
        raise ValidationError(f"anchor must be an ISO-8601 instant, got {anchor[:40]!r}", "anchor") from None
    try:
        cycle = parse_cycle(raw.get("interval", "month"), raw.get("interval_count", 1), field="cycle")
    except ValidationError as exc:
        field = "interval" if exc.field == "cycle.interval" else "interval_count"
        raise ValidationError(exc.message.replace("count must", "interval_count must"), field) from None
    amount = raw.get("credits_per_cycle")
    credits = None if amount is None else parse_amount(amount, precision, "credits_per_cycle")
    source_id = raw.get("source_id")
    if source_id is not None and (not isinstance(source_id, str) or not 0 < len(source_id) <= 255
                                  or "\x00" in source_id):
        raise ValidationError("source_id must be a string of 1 to 255 characters", "source_id")
    return Schedule(anchor_us, cycle, credits, source_id)


def timeframe_end(start: int, count: int | None, interval: str | None) -> int | None:
    """``start`` + ``count`` × ``interval`` (Dodo's Day/Week/Month/Year), or None without a timeframe."""
    if count is None or interval is None:
        return None
    cycle = Cycle(TIME_INTERVALS[interval], count)
    return to_us(period_start(from_us(start), cycle.interval, 1))
