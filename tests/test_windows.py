"""Usage windows (tz-aligned, clipped) and their decomposition onto rollup grains."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from meterbase.errors import ValidationError
from meterbase.meters.windows import DAY_US, HOUR_US, MAX_WINDOWS, decompose, plan, windows

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
MIN_US = 60_000_000
SEC_US = 1_000_000


def us(y, mo, d, h=0, mi=0, s=0, tz=UTC) -> int:
    dt = datetime(y, mo, d, h, mi, s, tzinfo=tz)
    return round(dt.timestamp()) * SEC_US


def lengths_h(ws):
    return [(e - s) / HOUR_US for s, e in ws]


# ---------------------------------------------------------------------------------------------
# Day windows in America/New_York across DST
# ---------------------------------------------------------------------------------------------
def test_ny_day_windows_spring_forward_23h():
    start = us(2024, 3, 9, 5)  # 2024-03-09 00:00 EST
    end = us(2024, 3, 12, 4)  # 2024-03-12 00:00 EDT
    ws = windows(start, end, "day", "America/New_York")
    assert ws == [
        (us(2024, 3, 9, 5), us(2024, 3, 10, 5)),
        (us(2024, 3, 10, 5), us(2024, 3, 11, 4)),
        (us(2024, 3, 11, 4), us(2024, 3, 12, 4)),
    ]
    assert lengths_h(ws) == [24, 23, 24]


def test_ny_day_windows_fall_back_25h():
    start = us(2024, 11, 2, 4)  # 2024-11-02 00:00 EDT
    end = us(2024, 11, 5, 5)  # 2024-11-05 00:00 EST
    ws = windows(start, end, "day", "America/New_York")
    assert ws == [
        (us(2024, 11, 2, 4), us(2024, 11, 3, 4)),
        (us(2024, 11, 3, 4), us(2024, 11, 4, 5)),
        (us(2024, 11, 4, 5), us(2024, 11, 5, 5)),
    ]
    assert lengths_h(ws) == [24, 25, 24]


def test_ny_day_windows_start_mid_day_are_aligned_to_local_midnight_and_clipped():
    start = us(2024, 3, 10, 12, 30)  # 08:30 EDT on the 23h day
    end = us(2024, 3, 11, 10)  # 06:00 EDT next day
    ws = windows(start, end, "day", "America/New_York")
    assert ws == [(start, us(2024, 3, 11, 4)), (us(2024, 3, 11, 4), end)]


def test_ny_hour_windows_across_fall_back_have_25_hours():
    start = us(2024, 11, 3, 4)
    end = us(2024, 11, 4, 5)
    ws = windows(start, end, "hour", "America/New_York")
    assert len(ws) == 25
    assert all(e - s == HOUR_US for s, e in ws)


def test_ny_hour_windows_across_spring_forward_have_23_hours():
    ws = windows(us(2024, 3, 10, 5), us(2024, 3, 11, 4), "hour", "America/New_York")
    assert len(ws) == 23
    assert all(e - s == HOUR_US for s, e in ws)


def test_half_hour_offset_zone_hour_windows_align_to_local_hours():
    # Asia/Kolkata is UTC+05:30: local hours start at :30 UTC
    start = us(2024, 1, 1, 0, 0)
    end = us(2024, 1, 1, 3, 0)
    ws = windows(start, end, "hour", "Asia/Kolkata")
    assert ws == [
        (start, us(2024, 1, 1, 0, 30)),
        (us(2024, 1, 1, 0, 30), us(2024, 1, 1, 1, 30)),
        (us(2024, 1, 1, 1, 30), us(2024, 1, 1, 2, 30)),
        (us(2024, 1, 1, 2, 30), end),
    ]
    day = windows(start, us(2024, 1, 3), "day", "Asia/Kolkata")
    assert day == [
        (start, us(2024, 1, 1, 18, 30)),
        (us(2024, 1, 1, 18, 30), us(2024, 1, 2, 18, 30)),
        (us(2024, 1, 2, 18, 30), us(2024, 1, 3)),
    ]


def test_lord_howe_hour_windows_realign_after_half_hour_dst_shift():
    # 2024-10-06 02:00 +10:30 -> 02:30 +11:00 (transition at 15:30Z)
    lh = ZoneInfo("Australia/Lord_Howe")
    start = us(2024, 10, 5, 12)
    ws = windows(start, start + 6 * HOUR_US, "hour", "Australia/Lord_Howe")
    shift = us(2024, 10, 5, 15, 30)
    # local hour 02 starts at the shift instant (shown as 02:30 +11:00) and lasts 30 minutes;
    # every other window starts on a whole local hour
    assert shift in [s for s, _ in ws]
    for s, e in ws[1:]:  # the first window is clipped by the query start (22:30 local)
        local = datetime.fromtimestamp(s / SEC_US, lh)
        assert local.minute == 0 or s == shift
        assert e - s == (30 * 60 * SEC_US if s == shift else HOUR_US)


# ---------------------------------------------------------------------------------------------
# Month windows
# ---------------------------------------------------------------------------------------------
def test_month_windows_utc_leap_year():
    ws = windows(us(2024, 1, 1), us(2024, 5, 1), "month", "UTC")
    assert [(e - s) // DAY_US for s, e in ws] == [31, 29, 31, 30]
    assert ws[0][0] == us(2024, 1, 1) and ws[-1][1] == us(2024, 5, 1)


def test_month_windows_cross_year_and_clip():
    start = us(2023, 11, 15, 6)
    end = us(2024, 2, 10)
    ws = windows(start, end, "month", None)  # None means UTC
    assert ws == [
        (start, us(2023, 12, 1)),
        (us(2023, 12, 1), us(2024, 1, 1)),
        (us(2024, 1, 1), us(2024, 2, 1)),
        (us(2024, 2, 1), end),
    ]


def test_month_windows_new_york_follow_local_midnight_across_dst():
    ws = windows(us(2024, 2, 1, 5), us(2024, 5, 1, 4), "month", "America/New_York")
    assert ws == [
        (us(2024, 2, 1, 5), us(2024, 3, 1, 5)),  # EST both ends
        (us(2024, 3, 1, 5), us(2024, 4, 1, 4)),  # EST -> EDT: one hour short
        (us(2024, 4, 1, 4), us(2024, 5, 1, 4)),
    ]
    assert (ws[1][1] - ws[1][0]) == 31 * DAY_US - HOUR_US


# ---------------------------------------------------------------------------------------------
# Clipping and minute windows
# ---------------------------------------------------------------------------------------------
def test_day_windows_clip_to_range_utc():
    start = us(2024, 6, 1, 13, 17, 5)
    end = us(2024, 6, 3, 2, 0, 1)
    ws = windows(start, end, "day", "UTC")
    assert ws == [(start, us(2024, 6, 2)), (us(2024, 6, 2), us(2024, 6, 3)), (us(2024, 6, 3), end)]


def test_range_inside_one_window_is_one_clipped_window():
    start = us(2024, 6, 1, 13)
    assert windows(start, start + 1, "month", "UTC") == [(start, start + 1)]
    assert windows(start, start + 5 * MIN_US, "day", "America/New_York") == [(start, start + 5 * MIN_US)]


def test_minute_windows_count():
    start = us(2024, 6, 1)
    ws = windows(start, start + HOUR_US, "minute")
    assert len(ws) == 60
    assert all(e - s == MIN_US for s, e in ws)
    ws = windows(start + 30 * SEC_US, start + HOUR_US + 30 * SEC_US, "minute")
    assert len(ws) == 61
    assert ws[0] == (start + 30 * SEC_US, start + MIN_US)
    assert ws[-1] == (start + HOUR_US, start + HOUR_US + 30 * SEC_US)
    assert len(windows(start, start + DAY_US, "minute", "America/New_York")) == 1440


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_too_many_windows_limit_is_exact():
    start = us(2024, 1, 1)
    assert len(windows(start, start + MAX_WINDOWS * MIN_US, "minute")) == MAX_WINDOWS
    with pytest.raises(ValidationError) as exc:
        windows(start, start + (MAX_WINDOWS + 1) * MIN_US, "minute")
    assert exc.value.field == "window"
    with pytest.raises(ValidationError) as exc:
        windows(start, start + 10 * 365 * DAY_US, "hour")
    assert exc.value.field == "window"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((100, 200, "week", "UTC"), "window"),
        ((100, 200, "Day", "UTC"), "window"),
        ((200, 200, "day", "UTC"), "to"),
        ((300, 200, "day", "UTC"), "to"),
        ((100, 200, "day", "Mars/Olympus"), "tz"),
        ((100, 200, "day", "../etc/passwd"), "tz"),
    ],
)
def test_window_argument_errors(args, field):
    with pytest.raises(ValidationError) as exc:
        windows(*args)
    assert exc.value.field == field


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
T0 = us(2024, 1, 1)
instants = st.integers(min_value=T0, max_value=T0 + 400 * DAY_US)
aligned_instants = st.one_of(
    instants,
    st.integers(0, 400 * 24).map(lambda h: T0 + h * HOUR_US),
    st.integers(0, 400).map(lambda d: T0 + d * DAY_US),
)


def _local_floor(us_: int, size: str, tz: ZoneInfo) -> datetime:
    dt = datetime.fromtimestamp(us_ // SEC_US, tz)
    if size == "day":
        return datetime(dt.year, dt.month, dt.day, tzinfo=tz)
    return datetime(dt.year, dt.month, 1, tzinfo=tz)


@settings(max_examples=150, deadline=None, database=None)
@given(
    a=aligned_instants,
    span=st.integers(min_value=1, max_value=90 * DAY_US),
    size=st.sampled_from(["hour", "day", "month"]),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Europe/London"]),
)
def test_windows_cover_range_contiguously(a, span, size, tz):
    b = a + span
    ws = windows(a, b, size, tz)
    assert ws[0][0] == a and ws[-1][1] == b
    for (s1, e1), (s2, e2) in zip(ws, ws[1:]):
        assert e1 == s2
    assert all(s < e for s, e in ws)
    zi = ZoneInfo(tz)
    # every interior boundary is a local hour start (hour), local midnight (day) or the local
    # midnight of the 1st (month); checked independently through wall-clock construction
    for s, _ in ws[1:]:
        local = datetime.fromtimestamp(s / SEC_US, zi)
        assert (local.minute, local.second, local.microsecond) == (0, 0, 0), (size, tz, local)
        if size in ("day", "month"):
            assert local.hour == 0, local
            expected = datetime(local.year, local.month, local.day, tzinfo=zi)
            assert round(expected.timestamp()) * SEC_US == s
            if size == "month":
                assert local.day == 1


def _check_decomposition(start, end, pieces):
    if start >= end:
        assert pieces == []
        return
    assert pieces[0][1] == start and pieces[-1][2] == end
    for (_, s1, e1), (_, s2, e2) in zip(pieces, pieces[1:]):
        assert e1 == s2  # no gap, no overlap
    for grain, s, e in pieces:
        assert s < e
        if grain == "day":
            assert s % DAY_US == 0 and e % DAY_US == 0
        elif grain == "hour":
            assert s % HOUR_US == 0 and e % HOUR_US == 0
            # an hour piece never contains a whole UTC day (that would be a day piece)
            first_day = -(-s // DAY_US) * DAY_US
            assert first_day + DAY_US > e
        else:
            assert grain == "raw"
            first_hour = -(-s // HOUR_US) * HOUR_US
            assert first_hour + HOUR_US > e  # a raw piece never contains a whole UTC hour
    grains = [g for g, _, _ in pieces]
    assert grains.count("day") <= 1
    assert grains.count("raw") <= 2


@settings(max_examples=300, deadline=None, database=None)
@given(a=aligned_instants, b=aligned_instants)
def test_decompose_covers_exactly(a, b):
    _check_decomposition(a, b, decompose(a, b))


@settings(max_examples=200, deadline=None, database=None)
@given(a=aligned_instants, span=st.integers(1, 3 * HOUR_US))
def test_decompose_short_ranges(a, span):
    _check_decomposition(a, a + span, decompose(a, a + span))


def test_decompose_examples():
    d = us(2024, 1, 2)
    assert decompose(d, d + DAY_US) == [("day", d, d + DAY_US)]
    assert decompose(d + 1, d + HOUR_US) == [("raw", d + 1, d + HOUR_US)]
    assert decompose(d + 90 * MIN_US, d + 2 * DAY_US + 30 * MIN_US) == [
        ("raw", d + 90 * MIN_US, d + 2 * HOUR_US),
        ("hour", d + 2 * HOUR_US, d + DAY_US),
        ("day", d + DAY_US, d + 2 * DAY_US),
        ("raw", d + 2 * DAY_US, d + 2 * DAY_US + 30 * MIN_US),
    ]
    assert decompose(d - HOUR_US, d + HOUR_US) == [("hour", d - HOUR_US, d + HOUR_US)]
    assert decompose(d, d) == []


def _union(ranges):
    out = []
    for s, e in sorted(ranges):
        if out and out[-1][1] >= s:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@settings(max_examples=100, deadline=None, database=None)
@given(
    a=aligned_instants,
    span=st.integers(min_value=1, max_value=20 * DAY_US),
    size=st.sampled_from(["minute", "hour", "day", "month"]),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
)
def test_plan_partitions_the_query_range(a, span, size, tz):
    b = a + span
    if size == "minute" and span > 5 * DAY_US:
        b = a + span % (5 * DAY_US) + 1
    ranges = plan(windows(a, b, size, tz))
    allr = [r for g in ("raw", "hour", "day") for r in ranges[g]]
    # disjoint and together exactly [a, b)
    total = sum(e - s for s, e in allr)
    assert total == b - a
    assert _union(allr) == [(a, b)]
    for g in ("raw", "hour", "day"):
        rs = ranges[g]
        assert rs == sorted(rs)
        for (s1, e1), (s2, e2) in zip(rs, rs[1:]):
            assert e1 < s2  # adjacent pieces of one grain are coalesced
    for s, e in ranges["hour"]:
        assert s % HOUR_US == 0 and e % HOUR_US == 0
    for s, e in ranges["day"]:
        assert s % DAY_US == 0 and e % DAY_US == 0
