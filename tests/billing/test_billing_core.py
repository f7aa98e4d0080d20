"""The pure billing core: periods and anchors, fixed-fee shares, invoice assembly (examples and
hypothesis properties)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbase.billing import (Cycle, Segment, assemble, billing_anchor, fixed_share, parse_cycle, parse_product,
                               period_at, periods_until)
from meterbase.errors import ValidationError
from meterbase.pricing import Money, price_line, price_from_dict

UTC = timezone.utc


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_anchor_day_31_clamps_and_recovers():
    cycle = Cycle("month", 1)
    start = d(2025, 2, 5, 9, 30)
    anchor = billing_anchor(start, cycle, 31)
    assert anchor == d(2025, 1, 31)
    got = [(p.start, p.end) for p in periods_until(start, anchor, cycle, d(2025, 6, 1))]
    assert got == [(start, d(2025, 2, 28)), (d(2025, 2, 28), d(2025, 3, 31)), (d(2025, 3, 31), d(2025, 4, 30)),
                   (d(2025, 4, 30), d(2025, 5, 31))]
    first = period_at(start, anchor, cycle, start)
    assert (first.nominal_start, first.nominal_end) == (d(2025, 1, 31), d(2025, 2, 28))


def test_cycles_yearly_and_custom_days():
    start = d(2024, 2, 29)
    yearly = parse_cycle("Year", 1)
    assert [p.end for p in periods_until(start, start, yearly, d(2027, 1, 1))] == [d(2025, 2, 28), d(2026, 2, 28)]
    days = parse_cycle("day", 30)
    ends = [p.end for p in periods_until(start, start, days, d(2024, 6, 1))]
    assert ends == [start + timedelta(days=30 * k) for k in range(1, 4)]
    assert list(periods_until(start, start, days, d(2024, 6, 1), ends_at=start + timedelta(days=30)))[-1].end == ends[0]
    with pytest.raises(ValidationError) as e:
        parse_cycle("fortnight")
    assert e.value.field == "billing_period.interval"
    with pytest.raises(ValidationError):
        billing_anchor(start, yearly, 1)


def test_product_limits_and_shorthand():
    meters = [{"meter_id": f"m{i}", "price_per_unit": "0.01"} for i in range(10)]
    plan = parse_product({"name": "p", "currency": "usd", "fixed_fee": 49, "meters": meters})
    assert plan.currency == "USD" and plan.fixed_fee == Money(Decimal("49.00"), "USD") and len(plan.usage) == 10
    with pytest.raises(ValidationError) as e:
        parse_product({"name": "p", "currency": "USD", "meters": meters + [{"meter_id": "m10", "price_per_unit": 1}]})
    assert e.value.field == "meters"
    with pytest.raises(ValidationError) as e:
        parse_product({"name": "p", "currency": "USD", "meters": [meters[0], meters[0]]})
    assert e.value.field == "meters[1].meter_id"
    with pytest.raises(ValidationError) as e:
        parse_product({"name": "p", "currency": "JPY", "fixed_fee": "1.5"})
    assert e.value.field == "fixed_fee"


instants = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)).map(lambda x: x.replace(tzinfo=UTC))
cycles = st.one_of(st.builds(Cycle, st.just("month"), st.integers(1, 12)), st.builds(Cycle, st.just("year"), st.integers(1, 2)),
                   st.builds(Cycle, st.sampled_from(["day", "week"]), st.integers(1, 90)))


@settings(max_examples=150, deadline=None)
@given(start=instants, cycle=cycles, anchor_day=st.one_of(st.none(), st.integers(1, 31)), n=st.integers(1, 14))
def test_periods_tile_time_without_gaps(start, cycle, anchor_day, n):
    if cycle.unit != "month":
        anchor_day = None
    anchor = billing_anchor(start, cycle, anchor_day)
    assert anchor <= start
    periods = []
    at = start
    for _ in range(n):
        p = period_at(start, anchor, cycle, at)
        assert p.start <= at < p.end and p.nominal_start <= p.start and p.end == p.nominal_end
        periods.append(p)
        at = p.end
    assert periods[0].start == start
    assert all(a.end == b.start for a, b in zip(periods, periods[1:]))
    assert all(p.start == p.nominal_start for p in periods[1:])  # only the first may be a stub
    assert [(p.start, p.end) for p in periods_until(start, anchor, cycle, periods[-1].end)] == \
           [(p.start, p.end) for p in periods]


fees = st.integers(0, 10**9).map(lambda c: Money.from_minor(c, "USD"))


@settings(max_examples=200, deadline=None)
@given(fee=fees, start=instants, cuts=st.lists(st.floats(0, 1, exclude_max=True), max_size=5))
def test_fixed_shares_telescope_to_the_whole_fee(fee, start, cuts):
    period = period_at(start, start, Cycle("month", 1), start)
    span = period.end - period.start
    points = sorted({period.start + span * c for c in cuts} | {period.start}) + [period.end]
    shares = [fixed_share(fee, period, a, b) for a, b in zip(points, points[1:]) if a < b]
    assert all(s.amount >= 0 for s in shares)
    assert sum(s.amount for s in shares) == fee.amount


prices = st.sampled_from([
    {"model": "per_unit", "unit_price": "0.02", "free_threshold": "1000"},
    {"model": "per_unit", "unit_price": "0.00001", "free_threshold": "10000"},
    {"model": "graduated", "tiers": [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
                                     {"up_to": None, "unit_price": "0.0003"}]},
    {"model": "volume", "free_threshold": "5", "tiers": [{"up_to": 100, "unit_price": "0.5"}, {"up_to": None, "unit_price": "0.25"}]},
    {"model": "package", "package_size": "100", "package_price": "1.5", "free_threshold": "50"},
])
quantities = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False, allow_infinity=False)


def plan_with(price: dict, fee: str = "49.00"):
    return parse_product({"name": "p", "currency": "USD", "fixed_fee": fee, "meters": [{"meter_id": "m", "price": price}]})


@settings(max_examples=150, deadline=None)
@given(price=prices, q=quantities)
def test_single_segment_invoice_is_the_fee_plus_the_priced_line(price, q):
    plan = plan_with(price)
    period = period_at(d(2025, 1, 1), d(2025, 1, 1), plan.cycle, d(2025, 1, 1))
    draft = assemble(period, [Segment(plan, period.start, period.end)], {("m", period.start, period.end): q})
    expected = price_line(q, price_from_dict(price), "USD").amount
    assert [ln.amount for ln in draft.lines] == [Decimal("49.00"), expected]
    assert draft.total == draft.subtotal == Decimal("49.00") + expected


@settings(max_examples=150, deadline=None)
@given(q1=quantities, q2=quantities, unit=st.sampled_from(["0.02", "0.001", "0.00001"]),
       free=st.integers(0, 20000), cut_day=st.integers(2, 30))
def test_splitting_a_period_keeps_one_free_allowance(q1, q2, unit, free, cut_day):
    price = {"model": "per_unit", "unit_price": unit, "free_threshold": free}
    plan = plan_with(price, "0")
    period = period_at(d(2025, 1, 1), d(2025, 1, 1), plan.cycle, d(2025, 1, 1))
    cut = d(2025, 1, cut_day)
    split = assemble(period, [Segment(plan, period.start, cut), Segment(plan, cut, period.end)],
                     {("m", period.start, cut): q1, ("m", cut, period.end): q2})
    whole = price_line(q1 + q2, price_from_dict(price), "USD")
    assert sum(ln.free_units for ln in split.lines) == whole.free_units == min(q1 + q2, free)
    assert sum(Decimal(ln.detail["exact_amount"]) for ln in split.lines) == whole.exact_amount
    assert split.total == sum(ln.amount for ln in split.lines)


def test_segments_must_tile_and_share_a_currency():
    plan = plan_with({"model": "per_unit", "unit_price": "1"})
    period = period_at(d(2025, 1, 1), d(2025, 1, 1), plan.cycle, d(2025, 1, 1))
    with pytest.raises(ValidationError):
        assemble(period, [Segment(plan, period.start, d(2025, 1, 10))], {})
    eur = parse_product({"name": "e", "currency": "EUR"})
    with pytest.raises(ValidationError) as e:
        assemble(period, [Segment(plan, period.start, d(2025, 1, 10)), Segment(eur, d(2025, 1, 10), period.end)], {})
    assert e.value.field == "currency"
