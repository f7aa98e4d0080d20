"""Periods computed arithmetically from an anchor instant (nothing runs on a timer).

Shared by the policy engine (limit and cap resets) and billing (subscription periods). A limit that resets repeats an :class:`Interval` starting at the customer's anchor (usually when they
joined the plan): either a fixed duration (``reset_inc: 30days``) or a number of calendar months (plan
``period: monthly``/``quarterly``/``yearly``). Period ``k`` starts at ``anchor + k * interval``; month
arithmetic always counts from the anchor and clamps to the month's end, so an anchor on Jan 31 gives
Feb 28 (29 in leap years), then Mar 31. :func:`current_period` finds the period containing ``now`` directly,
so the storage layer can detect a rollover lazily on the next read or write.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import ValidationError
from .units import parse_duration

#: Calendar-period names accepted for a plan ``period`` (months) and fixed-length aliases.
MONTHLY_PERIODS = {"monthly": 1, "quarterly": 3, "yearly": 12, "annually": 12}
FIXED_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True)
class Interval:
    """A period length: ``months`` calendar months, or a fixed ``delta`` (exactly one is set)."""

    months: int = 0
    delta: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if (self.months > 0) == (self.delta > timedelta(0)) or self.months < 0 or self.delta < timedelta(0):
            raise ValueError("an Interval needs exactly one positive part: months or delta")


def parse_interval(value: object, field: str | None = None) -> Interval:
    """``'monthly'``, ``'yearly'``, ``'weekly'``... or a duration such as ``'30days'`` / ``timedelta``."""
    if isinstance(value, str) and value in MONTHLY_PERIODS:
        return Interval(months=MONTHLY_PERIODS[value])
    if isinstance(value, str) and value in FIXED_PERIODS:
        return Interval(delta=FIXED_PERIODS[value])
    delta = value if isinstance(value, timedelta) else parse_duration(value, field)
    if delta <= timedelta(0):
        raise ValidationError(f"a period must be positive, got {value!r}", field)
    return Interval(delta=delta)


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by whole calendar months, the day clamped to the target month's length."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def period_start(anchor: datetime, interval: Interval, index: int) -> datetime:
    """Start of period number ``index`` (0 is the one beginning at ``anchor``; may be negative)."""
    if interval.months:
        return add_months(anchor, index * interval.months)
    return anchor + index * interval.delta


def _require_aware(**instants: datetime) -> None:
    for name, dt in instants.items():
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValidationError("naive datetime: pass an aware UTC datetime", name)


def period_index(anchor: datetime, now: datetime, interval: Interval) -> int:
    """Number of the period containing ``now`` (negative before the anchor)."""
    _require_aware(anchor=anchor, now=now)
    if interval.delta:
        return (now - anchor) // interval.delta
    index = ((now.year - anchor.year) * 12 + now.month - anchor.month) // interval.months
    while period_start(anchor, interval, index) > now:
        index -= 1
    while period_start(anchor, interval, index + 1) <= now:
        index += 1
    return index


def current_period(anchor: datetime, now: datetime, interval: Interval) -> tuple[datetime, datetime]:
    """The half-open period ``[start, end)`` that contains ``now``."""
    index = period_index(anchor, now, interval)
    return period_start(anchor, interval, index), period_start(anchor, interval, index + 1)
