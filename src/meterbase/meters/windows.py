"""Time windows for usage queries, and their decomposition onto rollup grains.

Windows are aligned to the wall clock of the requested IANA time zone (a "day" in
``America/New_York`` runs midnight to midnight there, 23 or 25 hours on DST days) and clipped
to the query range ``[from, to)``. All instants are UTC microseconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ValidationError
from ..timeutil import UTC, from_us, to_us

WINDOW_SIZES = ("minute", "hour", "day", "month")
MAX_WINDOWS = 20_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US

#: Rollup grains kept at ingest, finest last; "raw" means scanning events.
GRAINS = {"day": DAY_US, "hour": HOUR_US}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r} (use an IANA name like 'Europe/Paris')", "tz") from None


def _floor_local(dt: datetime, size: str) -> datetime:
    if size == "minute":
        return dt.replace(second=0, microsecond=0)
    if size == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    if size == "day":
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_start(local_start: datetime, size: str, tz: ZoneInfo) -> datetime:
    if size == "minute":
        return (local_start.astimezone(UTC) + timedelta(minutes=1)).astimezone(tz)
    if size == "hour":
        # step an hour of real time, then re-floor on the local clock: after a 30-minute DST shift
        # (Australia/Lord_Howe) the windows realign to whole local hours instead of drifting to :30
        nxt = _floor_local((local_start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz), "hour")
        if nxt.astimezone(UTC) <= local_start.astimezone(UTC):
            nxt = (local_start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
        return nxt
    if size == "day":
        nxt = (local_start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
        return nxt
    year, month = (local_start.year + 1, 1) if local_start.month == 12 else (local_start.year, local_start.month + 1)
    return local_start.replace(tzinfo=None, year=year, month=month).replace(tzinfo=tz)


def windows(start: int, end: int, size: str, tz_name: str | None = "UTC") -> list[tuple[int, int]]:
    """Consecutive windows covering ``[start, end)``, aligned in ``tz`` and clipped to the range."""
    if size not in WINDOW_SIZES:
        raise ValidationError(f"window must be one of {', '.join(WINDOW_SIZES)}", "window")
    if end <= start:
        raise ValidationError("'to' must be after 'from'", "to")
    tz = zone(tz_name)
    out: list[tuple[int, int]] = []
    try:
        local = _floor_local(from_us_dt(start, tz), size)
        ws = to_us(local)
        while ws < end:
            nxt = _next_start(local, size, tz)
            we = to_us(nxt)
            out.append((max(ws, start), min(we, end)))
            if len(out) > MAX_WINDOWS:
                raise ValidationError(f"too many windows (> {MAX_WINDOWS}); use a larger window or a shorter range", "window")
            local, ws = nxt, we
    except (OverflowError, ValueError):  # a window edge falls outside years 1..9999 in this zone
        raise ValidationError("the range reaches outside the supported calendar (years 1 to 9999)", "from") from None
    return out


def from_us_dt(us: int, tz: ZoneInfo) -> datetime:
    return from_us(us).astimezone(tz)


def _ceil(us: int, step: int) -> int:
    return -((-us) // step) * step


def _floor(us: int, step: int) -> int:
    return (us // step) * step


def decompose(start: int, end: int) -> list[tuple[str, int, int]]:
    """Split ``[start, end)`` into UTC-aligned day and hour rollup pieces plus raw edges."""
    if start >= end:
        return []
    hs, he = _ceil(start, HOUR_US), _floor(end, HOUR_US)
    if hs >= he:
        return [("raw", start, end)]
    pieces: list[tuple[str, int, int]] = []
    if start < hs:
        pieces.append(("raw", start, hs))
    ds, de = _ceil(hs, DAY_US), _floor(he, DAY_US)
    if ds < de:
        if hs < ds:
            pieces.append(("hour", hs, ds))
        pieces.append(("day", ds, de))
        if de < he:
            pieces.append(("hour", de, he))
    else:
        pieces.append(("hour", hs, he))
    if he < end:
        pieces.append(("raw", he, end))
    return pieces


def plan(wins: list[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """Decompose every window and coalesce adjacent pieces of one grain into few scan ranges."""
    ranges: dict[str, list[tuple[int, int]]] = {"raw": [], "hour": [], "day": []}
    for ws, we in wins:
        for grain, s, e in decompose(ws, we):
            rs = ranges[grain]
            if rs and rs[-1][1] == s:
                rs[-1] = (rs[-1][0], e)
            else:
                rs.append((s, e))
    return ranges
