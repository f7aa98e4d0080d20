"""Grace periods (pure): how long a period's invoice stays a draft after the period ends.

A period's invoice stays a draft -- re-priced by every invoice run as events arrive -- until
``grace_period_hours`` after the period's end; a run asked to finalize freezes only periods past it
(``past_grace``). The hours come from the subscription, else from the product in force at the end of
the period, else :data:`DEFAULT_GRACE_PERIOD_HOURS`. Usage that arrives after finalization is not
lost either: it becomes an adjustment on the next invoice (``billing.adjustments``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..errors import ValidationError
from .periods import Period

#: Grace period of a product or subscription that sets none: invoices can be finalized at the period's end.
DEFAULT_GRACE_PERIOD_HOURS = 0
MAX_GRACE_PERIOD_HOURS = 8760  # one year


def parse_grace_hours(value: Any, field: str = "grace_period_hours") -> int | None:
    """``None`` (not set) or a whole number of hours from 0 to :data:`MAX_GRACE_PERIOD_HOURS`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GRACE_PERIOD_HOURS:
        raise ValidationError(f"{field} must be a whole number of hours from 0 to {MAX_GRACE_PERIOD_HOURS}", field)
    return value


def grace_hours(subscription_hours: int | None, product_hours: int | None) -> int:
    """The grace period that applies: the subscription's, else the product's, else the default."""
    for hours in (subscription_hours, product_hours):
        if hours is not None:
            return hours
    return DEFAULT_GRACE_PERIOD_HOURS


def grace_ends(period: Period, hours: int) -> datetime:
    return period.end + timedelta(hours=hours)


def past_grace(period: Period, hours: int, now: datetime) -> bool:
    """True once ``now`` is at or after the end of ``period``'s grace period."""
    return now >= grace_ends(period, hours)
