"""Property tests: hard limits are never exceeded, soft overage adds up exactly, periods tile time."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from meterbase.periods import Interval, current_period
from meterbase.policy import Credit, Entitlement, Limit, allow, check, remaining
from meterbase.units import convert

SECONDS = Credit("gpu_second", stof_units="s")
amounts = st.decimals(min_value=0, max_value=5000, places=3, allow_nan=False, allow_infinity=False)
limits = st.decimals(min_value=0, max_value=20000, places=2, allow_nan=False, allow_infinity=False)


def _entitlement(mode: str, value: Decimal) -> Entitlement:
    return Entitlement("gpu_compute", limit=Limit(SECONDS, mode, value, resets=True))  # type: ignore[arg-type]


@given(limit_value=limits, steps=st.lists(amounts, max_size=40))
def test_hard_limit_is_never_exceeded(limit_value: Decimal, steps: list[Decimal]) -> None:
    ent = _entitlement("hard", limit_value)
    used = Decimal(0)
    for amount in steps:
        predicted = check(ent, used, amount)
        decision = allow(ent, used, amount)
        assert decision.allowed == predicted.allowed == (used + amount <= limit_value)
        assert decision.consumed == (amount if decision.allowed else 0)
        assert decision.overage == 0
        used = decision.used_after
        assert used <= limit_value
        assert remaining(ent, used) == limit_value - used


@given(limit_value=limits, steps=st.lists(amounts, max_size=40))
def test_soft_overage_sums_to_total_past_limit(limit_value: Decimal, steps: list[Decimal]) -> None:
    ent = _entitlement("soft", limit_value)
    used, billed = Decimal(0), Decimal(0)
    for amount in steps:
        assert check(ent, used, amount).overage == allow(ent, used, amount).overage
        decision = allow(ent, used, amount, customer_id="c")
        assert decision.allowed and decision.consumed == amount
        assert sum(getattr(e, "overage", 0) for e in decision.events) == decision.overage
        billed += decision.overage
        used = decision.used_after
    assert used == sum(steps, Decimal(0))
    assert billed == max(Decimal(0), used - limit_value)


@given(ms=st.integers(min_value=0, max_value=10**12))
def test_milliseconds_convert_exactly(ms: int) -> None:
    assert convert(f"{ms}ms", "s") * 1000 == ms
    assert convert(f"{ms}ms", "ms") == ms


@given(gib=st.integers(min_value=0, max_value=10**6))
def test_binary_bytes_convert_exactly(gib: int) -> None:
    assert convert(f"{gib}GiB", "B") == gib * 2**30
    assert convert(f"{gib}GiB", "KiB") == gib * 2**20


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))
intervals = st.one_of(
    st.integers(min_value=1, max_value=24).map(lambda m: Interval(months=m)),
    st.integers(min_value=1, max_value=400 * 86400).map(lambda s: Interval(delta=timedelta(seconds=s))),
)


@given(anchor=instants, now=instants, interval=intervals)
def test_current_period_contains_now(anchor: datetime, now: datetime, interval: Interval) -> None:
    start, end = current_period(anchor, now, interval)
    assert start <= now < end
    if interval.months:
        assert start.day == min(anchor.day, calendar.monthrange(start.year, start.month)[1])
        assert start.time() == anchor.time()
    else:
        assert end - start == interval.delta
        assert (start - anchor) % interval.delta == timedelta(0)
    assert current_period(anchor, end, interval)[0] == end  # periods tile: the next starts where this ends
