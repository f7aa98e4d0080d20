"""Behaviour of the pure core that mutation testing found unpinned (issue 19, "Tests the core is
missing"): each test fails for a surviving mutant of periods, money, proration, price bounds,
intervals, filters or the aggregation algebra."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from meterbase.errors import ValidationError
from meterbase.meters.aggregate import Partial, brute_force
from meterbase.meters.model import Meter, parse_meter_spec
from meterbase.periods import Interval, current_period, parse_interval, period_index
from meterbase.pricing import Money, PerUnit, from_minor, price_line, proration

UTC = timezone.utc


def test_period_lookup_with_now_in_another_offset_exactly_on_a_period_start():
    anchor = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime(2024, 3, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))  # = 2024-04-01T00:00Z
    assert period_index(anchor, now, parse_interval("monthly")) == 3  # the upward correction
    assert current_period(anchor, now, parse_interval("monthly")) == (datetime(2024, 4, 1, tzinfo=UTC),
                                                                     datetime(2024, 5, 1, tzinfo=UTC))
    just_before = now - timedelta(microseconds=1)
    assert period_index(anchor, just_before, parse_interval("monthly")) == 2
    ahead = datetime(2024, 4, 1, 4, 0, tzinfo=timezone(timedelta(hours=5)))  # = 2024-03-31T23:00Z
    assert period_index(anchor, ahead, parse_interval("monthly")) == 2  # the downward correction


@pytest.mark.parametrize("units", [True, False, "100", 1.5, None, D(100)])
def test_from_minor_refuses_anything_but_an_int(units):
    with pytest.raises(ValidationError) as exc:
        from_minor(units, "USD")
    assert exc.value.field == "amount"
    assert from_minor(100, "USD") == D("1.00") and Money.from_minor(5, "JPY").amount == D(5)


def test_proration_of_a_period_shorter_than_a_second():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(microseconds=800)
    fee = Money(D("10.00"), "USD")
    assert proration(fee, start, end, start + timedelta(microseconds=200)).amount == D("7.50")
    assert proration(fee, start, end, start + timedelta(microseconds=1)).amount == D("9.99")  # 9.9875 -> 9.99
    assert proration(fee, start, end, end).amount == D("0.00")
    assert proration(fee, start, end, start).amount == D("10.00")


def test_a_price_of_exactly_18_places_and_a_quantity_of_18_integer_digits_are_accepted():
    price = PerUnit(unit_price="0.000000000000000001")
    assert price.unit_price == D("1E-18")
    line = price_line("999999999999999999", price, "USD")
    assert line.quantity == D("999999999999999999") and line.exact_amount == D("0.999999999999999999")
    assert line.amount == D("1.00")
    with pytest.raises(ValidationError) as exc:
        PerUnit(unit_price="0.0000000000000000001")  # 19 places
    assert exc.value.field == "unit_price" and "18 decimal places" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        PerUnit(unit_price="1" + "0" * 18)  # 1e18
    assert "below 1e18" in exc.value.message
    # quantities take the metering range: 30 integer digits and 30 places
    assert price_line("9" * 30, PerUnit(unit_price="1"), "USD").amount == D("9" * 30 + ".00")
    assert price_line("0." + "0" * 29 + "1", PerUnit(unit_price="1"), "USD").amount == D("0.00")


@pytest.mark.parametrize("name, expected", [("annually", Interval(months=12)), ("yearly", Interval(months=12)),
                                            ("daily", Interval(delta=timedelta(days=1))),
                                            ("weekly", Interval(delta=timedelta(days=7)))])
def test_parse_interval_aliases(name, expected):
    assert parse_interval(name) == expected


# ---------------------------------------------------------------------------------------------
# The aggregation algebra against its brute-force reference
# ---------------------------------------------------------------------------------------------
_value = st.one_of(st.integers(-10**6, 10**6), st.sampled_from(["1.5", "abc", "-0.25", "1e3", True, "", "9" * 30]))
_event = st.tuples(st.sampled_from(["job", "other"]), st.fixed_dictionaries({}, optional={"v": _value, "t": st.sampled_from(["a", "b"])}),
                   st.integers(0, 5), st.integers(0, 10**6))


@settings(max_examples=200, deadline=None)
@given(events=st.lists(_event, max_size=30), cut=st.integers(0, 30),
       agg=st.sampled_from(["count", "sum", "max", "min", "avg", "last", "unique_count"]))
def test_partials_of_any_split_merge_to_the_brute_force_answer(events, cut, agg):
    spec = parse_meter_spec({"name": "m", "event_name": "job", "aggregation": {"type": agg, "key": "v"},
                             "filter": {"clauses": [{"key": "t", "operator": "not_equals", "value": "b"}]}})
    meter = Meter("mtr", "test_mode", spec, False, 0, 0)
    events = [(name, meta, ts, seq) for seq, (name, meta, ts, _) in enumerate(events)]
    whole = brute_force(meter, events)
    merged = brute_force(meter, events[:cut]).merge(brute_force(meter, events[cut:]))
    merged_other_way = brute_force(meter, events[cut:]).merge(brute_force(meter, events[:cut]))
    for p in (merged, merged_other_way):
        assert (p.value(agg), p.events, p.rejected) == (whole.value(agg), whole.events, whole.rejected)
    matching = [m for name, m, _, _ in events if name == "job" and m.get("t") != "b"]
    assert whole.events == len(matching)
    if agg == "count":
        assert whole.value("count") == len(matching)
    assert isinstance(Partial().value("sum"), D)
