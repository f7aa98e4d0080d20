"""UTC time helpers: parsing ISO-8601, epoch-microsecond conversion and an injectable clock.

Every instant inside meterbase is an aware UTC ``datetime`` or an integer count of microseconds
since the Unix epoch (the storage representation); naive datetimes never cross a module boundary.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_SECOND = 1_000_000

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def to_us(dt: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch (exact)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: meterbase only handles aware UTC datetimes")
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def now_us(clock: Clock = system_clock) -> int:
    return to_us(clock())


def parse_instant(value: str | datetime) -> datetime:
    """Parse an ISO-8601 instant. ``Z`` and offsets are honoured; a naive value is taken as UTC."""
    if isinstance(value, datetime):
        dt = value
    elif value[-1:] == "Z" and (fast := _utc_instant(value)) is not None:
        return fast  # the usual form of event timestamps: no strip, rewrite or conversion
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _utc_instant(value: str) -> datetime | None:
    """``…Z`` read by ``datetime.fromisoformat`` itself (Python 3.11 reads ``Z``), or None when it cannot."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is UTC else None


def iso(dt: datetime) -> str:
    """RFC 3339 text with a ``Z`` suffix, microseconds only when present."""
    dt = dt.astimezone(UTC)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def iso_us(us: int) -> str:
    return iso(from_us(us))


def monotonic() -> float:
    return time.monotonic()
