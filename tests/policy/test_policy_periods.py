"""Reset periods computed from an anchor: fixed 30-day periods and clamped calendar months."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meterbase.errors import ValidationError
from meterbase.periods import Interval, add_months, current_period, parse_interval, period_index, period_start

UTC = timezone.utc
THIRTY_DAYS = Interval(delta=timedelta(days=30))
MONTHLY = Interval(months=1)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_thirty_day_periods_from_anchor() -> None:
    anchor = at(2025, 1, 15, 9, 30)
    assert current_period(anchor, anchor, THIRTY_DAYS) == (anchor, at(2025, 2, 14, 9, 30))
    assert current_period(anchor, at(2025, 2, 14, 9, 29, 59), THIRTY_DAYS) == (anchor, at(2025, 2, 14, 9, 30))
    assert current_period(anchor, at(2025, 2, 14, 9, 30), THIRTY_DAYS) == (at(2025, 2, 14, 9, 30), at(2025, 3, 16, 9, 30))
    assert period_index(anchor, at(2025, 12, 31), THIRTY_DAYS) == 11
    assert current_period(anchor, at(2025, 12, 31), THIRTY_DAYS) == (at(2025, 12, 11, 9, 30), at(2026, 1, 10, 9, 30))
    # before the anchor the arithmetic simply runs backwards
    assert current_period(anchor, at(2025, 1, 1), THIRTY_DAYS) == (at(2024, 12, 16, 9, 30), anchor)


def test_monthly_clamps_to_month_end_and_recovers() -> None:
    anchor = at(2024, 1, 31, 12)
    starts = [period_start(anchor, MONTHLY, k) for k in range(5)]
    assert starts == [at(2024, 1, 31, 12), at(2024, 2, 29, 12), at(2024, 3, 31, 12), at(2024, 4, 30, 12), at(2024, 5, 31, 12)]
    assert add_months(at(2025, 1, 31), 1) == at(2025, 2, 28)
    assert add_months(at(2025, 1, 31), 2) == at(2025, 3, 31)
    assert add_months(at(2025, 11, 30), 3) == at(2026, 2, 28)
    assert add_months(at(2025, 3, 31), -1) == at(2025, 2, 28)
    assert current_period(anchor, at(2024, 3, 1), MONTHLY) == (at(2024, 2, 29, 12), at(2024, 3, 31, 12))
    assert current_period(anchor, at(2024, 3, 31, 11, 59), MONTHLY) == (at(2024, 2, 29, 12), at(2024, 3, 31, 12))
    assert current_period(anchor, at(2024, 3, 31, 12), MONTHLY) == (at(2024, 3, 31, 12), at(2024, 4, 30, 12))
    assert current_period(anchor, at(2025, 2, 28, 12), MONTHLY) == (at(2025, 2, 28, 12), at(2025, 3, 31, 12))


def test_yearly_from_leap_day() -> None:
    anchor = at(2024, 2, 29)
    yearly = parse_interval("yearly")
    assert current_period(anchor, at(2025, 6, 1), yearly) == (at(2025, 2, 28), at(2026, 2, 28))
    assert current_period(anchor, at(2028, 3, 1), yearly) == (at(2028, 2, 29), at(2029, 2, 28))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("monthly", Interval(months=1)),
        ("quarterly", Interval(months=3)),
        ("yearly", Interval(months=12)),
        ("weekly", Interval(delta=timedelta(days=7))),
        ("30days", THIRTY_DAYS),
        ("1hr", Interval(delta=timedelta(hours=1))),
        (timedelta(days=2), Interval(delta=timedelta(days=2))),
    ],
)
def test_parse_interval(text: object, expected: Interval) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(("text", "message"), [("0s", "must be positive"), ("fortnightly", "not a number"), ("1GB", "is bytes")])
def test_parse_interval_errors(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_interval(text, "period")


def test_interval_needs_exactly_one_part() -> None:
    with pytest.raises(ValueError):
        Interval()
    with pytest.raises(ValueError):
        Interval(months=1, delta=timedelta(days=1))


def test_naive_datetimes_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        current_period(at(2025, 1, 1), datetime(2025, 2, 1), MONTHLY)
    assert info.value.field == "now"
