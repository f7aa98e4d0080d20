"""Billing cycles and periods: which ``[start, end)`` a subscription bills for, computed from an anchor.

A cycle is ``count`` days, weeks, months or years. Period boundaries are ``anchor + k × cycle``
(month arithmetic clamps to the month's end and always counts from the anchor: the one period module,
:mod:`meterbase.periods`, shared with the policy engine). The anchor is the subscription's start, or with an
``anchor_day`` (monthly cycles) the latest instant ``<= start`` on that day of a month at 00:00 UTC. The first
period then runs from the start to the next boundary (a *stub*); its ``nominal`` bounds are the
whole cycle it belongs to, so a fixed fee can be prorated over it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from ..errors import ValidationError
from ..periods import Interval, current_period

UNITS = ("day", "week", "month", "year")
MAX_COUNT = 3650


@dataclass(frozen=True)
class Cycle:
    """``count`` × ``unit`` between two invoices (``month``/1 = monthly, ``day``/30 = every 30 days)."""

    unit: str = "month"
    count: int = 1

    @property
    def interval(self) -> Interval:
        if self.unit == "month":
            return Interval(months=self.count)
        if self.unit == "year":
            return Interval(months=12 * self.count)
        days = self.count * (7 if self.unit == "week" else 1)
        return Interval(delta=timedelta(days=days))


def parse_cycle(unit: object, count: object = 1, field: str = "billing_period") -> Cycle:
    """Validate a cycle; ``unit`` is case-insensitive (Dodo sends ``Month``), aliases ``monthly``/``yearly``."""
    aliases = {"monthly": "month", "yearly": "year", "annually": "year", "weekly": "week", "daily": "day"}
    text = unit.strip().lower() if isinstance(unit, str) else None
    text = aliases.get(text, text)
    if text not in UNITS:
        raise ValidationError(f"interval must be one of {', '.join(UNITS)}", f"{field}.interval")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ValidationError(f"count must be an integer from 1 to {MAX_COUNT}", f"{field}.count")
    return Cycle(text, count)


@dataclass(frozen=True)
class Period:
    """A billed period ``[start, end)`` and the whole cycle ``[nominal_start, nominal_end)`` it lies in."""

    start: datetime
    end: datetime
    nominal_start: datetime
    nominal_end: datetime


def _aware(dt: datetime, field: str) -> datetime:
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise ValidationError("expected an aware UTC datetime", field)
    return dt.astimezone(timezone.utc)


def billing_anchor(start: datetime, cycle: Cycle, anchor_day: int | None = None) -> datetime:
    """The instant period boundaries count from (see the module docstring)."""
    start = _aware(start, "start")
    if anchor_day is None:
        return start
    if cycle.unit != "month":
        raise ValidationError("anchor_day applies to monthly cycles only", "anchor_day")
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 31:
        raise ValidationError("anchor_day must be an integer from 1 to 31", "anchor_day")
    year, month = start.year, start.month
    while True:  # the latest month (at or before start's) that has this day, on or before start
        if anchor_day <= calendar.monthrange(year, month)[1]:
            candidate = datetime(year, month, anchor_day, tzinfo=timezone.utc)
            if candidate <= start:
                return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def period_at(start: datetime, anchor: datetime, cycle: Cycle, at: datetime) -> Period:
    """The billing period containing ``at`` (``at >= start``; the first one may be a stub)."""
    start, anchor, at = _aware(start, "start"), _aware(anchor, "anchor"), _aware(at, "at")
    if at < start:
        raise ValidationError("the subscription had not started at that instant", "at")
    nominal_start, nominal_end = current_period(anchor, at, cycle.interval)
    return Period(max(start, nominal_start), nominal_end, nominal_start, nominal_end)


def periods_until(start: datetime, anchor: datetime, cycle: Cycle, until: datetime,
                  ends_at: datetime | None = None) -> Iterator[Period]:
    """Every period that has ended by ``until`` (and starts before ``ends_at``), oldest first."""
    period = period_at(start, anchor, cycle, start)
    while period.end <= until and (ends_at is None or period.start < ends_at):
        yield period
        period = period_at(start, anchor, cycle, period.end)
