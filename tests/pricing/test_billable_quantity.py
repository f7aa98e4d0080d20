"""The billable quantity rule (pricing.quantity) and the one value range of metering and pricing:
every value a meter can hold either prices under every price model or raises UnbillableQuantity."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal as D, localcontext

import pytest
from hypothesis import given, settings, strategies as st

from meterbase.events.values import to_decimal
from meterbase.exact import plain_text, quotient, round_quantity
from meterbase.meters.aggregate import Partial
from meterbase.pricing import UnbillableQuantity, billable_quantity, price_from_dict, price_line

#: Every value a meter accepts: |v| < 1e30 with at most 30 decimal places (here as exact strings).
metered = st.builds(lambda i, f, neg: D(f"{'-' if neg else ''}{i}.{f:030d}"),
                    st.integers(0, 10**30 - 1), st.integers(0, 10**30 - 1), st.booleans())
PRICES = [
    {"model": "per_unit", "unit_price": "999999999999999999.999999999999999999", "free_threshold": "1000"},
    {"model": "per_unit", "unit_price": "0.000000000000000001"},
    {"model": "graduated", "tiers": [{"up_to": "1000", "unit_price": "0.5"},
                                     {"up_to": None, "unit_price": "0.000000000000000001", "flat_fee": "7"}]},
    {"model": "volume", "tiers": [{"up_to": "1", "unit_price": "2"}, {"up_to": None, "unit_price": "1.5"}]},
    {"model": "package", "package_size": "0.000000000000000001", "package_price": "999999999999999999"},
    {"model": "flat", "amount": "49"},
]


@settings(max_examples=300, deadline=None)
@given(value=metered)
def test_every_value_a_meter_accepts_is_accepted_by_metering_and_prices_or_is_a_typed_error(value):
    assert to_decimal(plain_text(value)) == value  # metering takes it (as text, the way events carry it)
    try:
        q = billable_quantity(value)
    except UnbillableQuantity as exc:
        assert value < 0 and exc.reason == "negative" and exc.field == "quantity"
        return
    assert q == value  # in range and not negative: priced as it is, nothing rounded
    for price in PRICES:
        line = price_line(q, price_from_dict(price), "USD")
        assert line.quantity == value and line.amount >= 0


@settings(max_examples=200, deadline=None)
@given(values=st.lists(metered, min_size=1, max_size=6), agg=st.sampled_from(["sum", "max", "min", "last", "avg"]))
def test_every_aggregate_of_accepted_values_prices_or_is_a_typed_error(values, agg):
    p = Partial()
    for i, v in enumerate(values):
        p.add_value(v, i, i)
    value = p.value(agg)
    try:
        q = billable_quantity(value)
    except UnbillableQuantity as exc:
        assert exc.reason in ("negative", "too_large")
        assert (value < 0) if exc.reason == "negative" else (value >= D("1e30"))
        return
    for price in PRICES:
        price_line(q, price_from_dict(price), "JPY")


def test_the_rule_in_examples():
    assert billable_quantity(None) == 0
    assert billable_quantity(D("2.500")) == D("2.5")
    assert billable_quantity(D("-0")) == 0 and str(billable_quantity(D("-0"))) == "0"
    # more than 30 places (no meter produces it; an avg is already rounded): half-up to 30
    assert billable_quantity(D("0." + "0" * 29 + "15")) == D("0." + "0" * 29 + "2")
    assert billable_quantity(D("0." + "0" * 30 + "4")) == 0
    with pytest.raises(UnbillableQuantity) as exc:
        billable_quantity(D("-0.5"))
    assert exc.value.reason == "negative" and exc.value.code == "unbillable_quantity"
    with pytest.raises(UnbillableQuantity) as exc:
        billable_quantity(D("9" * 30 + "." + "9" * 31))  # rounds up to 1e30
    assert exc.value.reason == "too_large"
    with pytest.raises(UnbillableQuantity) as exc:
        billable_quantity(D("1e30"))
    named = exc.value.for_meter("mtr_1")
    assert named.meter_id == "mtr_1" and named.message.startswith("meter mtr_1: usage 1" + "0" * 30)


@settings(max_examples=300, deadline=None)
@given(total=metered, n=st.integers(1, 10**6))
def test_avg_rule_is_the_exact_quotient_half_up_to_30_places(total, n):
    with localcontext(Context(prec=200)):
        expected = (total / n).quantize(D(1).scaleb(-30), rounding=ROUND_HALF_UP)
    assert quotient(total, n) == expected
    assert round_quantity(quotient(total, n)) == expected  # the billing rule leaves it unchanged


def test_plain_text_is_exact_for_any_length():
    assert plain_text(D("1E+40")) == "1" + "0" * 40
    assert plain_text(D("1." + "0" * 40 + "1")) == "1." + "0" * 40 + "1"
    assert plain_text(D("-2.500")) == "-2.5" and plain_text(D("-0.0")) == "0"
