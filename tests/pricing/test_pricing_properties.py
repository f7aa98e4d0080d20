"""Property tests: tier arithmetic, monotonicity, packages, free units, single rounding, clamps."""

import math
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from meterbase.pricing import (
    Graduated, Package, PerUnit, PriceTier, Volume, currency_exponent, price_from_dict, price_line, round_amount,
)

quantities = st.decimals(min_value=0, max_value=10**7, places=3)
prices = st.decimals(min_value=0, max_value=100, places=6)
fees = st.decimals(min_value=0, max_value=50, places=2)


@st.composite
def tier_lists(draw, order=None, flat_fees=True):
    """Ascending tiers with an unbounded last one; ``order`` sorts the unit prices."""
    bounds = sorted(draw(st.sets(st.decimals(min_value=D("0.5"), max_value=10**6, places=1), max_size=5)))
    unit_prices = draw(st.lists(prices, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    if order == "falling":
        unit_prices.sort(reverse=True)
    elif order == "rising":
        unit_prices.sort()
    flat = draw(st.lists(fees if flat_fees else st.just(D(0)), min_size=len(unit_prices),
                         max_size=len(unit_prices)))
    return [PriceTier(up_to, p, f) for up_to, p, f in zip([*bounds, None], unit_prices, flat)]


def reference_graduated(tiers, q):
    """Sum over tiers of units-in-tier x price (+ the flat fee of every tier entered)."""
    total, lower = D(0), D(0)
    for tier in tiers:
        upper = q if tier.up_to is None else tier.up_to
        units = max(D(0), min(q, upper) - lower)
        total += units * tier.unit_price + (tier.flat_fee if units > 0 else 0)
        lower = upper
    return total


@given(tier_lists(), quantities)
def test_graduated_is_the_sum_over_tiers(tiers, q):
    b = Graduated(tiers=tiers).breakdown(q)
    assert b.exact_amount == reference_graduated(tiers, q)
    assert sum(t.units for t in b.tiers) == q
    assert all(t.amount == t.units * t.unit_price + t.flat_fee for t in b.tiers)


@given(tier_lists(), quantities, quantities)
def test_graduated_is_monotonic(tiers, a, b):
    price = Graduated(tiers=tiers)
    lo, hi = sorted((a, b))
    assert price.breakdown(lo).exact_amount <= price.breakdown(hi).exact_amount


@given(tier_lists(order="falling"), quantities)
def test_volume_never_exceeds_graduated_when_prices_fall(tiers, q):
    # With falling prices volume gives every unit the (cheapest) reached rate, so it is <= graduated.
    assert Volume(tiers=tiers).breakdown(q).exact_amount <= Graduated(tiers=tiers).breakdown(q).exact_amount


@given(tier_lists(order="rising", flat_fees=False), quantities)
def test_volume_at_least_graduated_when_prices_rise(tiers, q):
    assert Volume(tiers=tiers).breakdown(q).exact_amount >= Graduated(tiers=tiers).breakdown(q).exact_amount


@given(quantities, st.decimals(min_value=D("0.001"), max_value=10**4, places=3), fees)
def test_package_is_ceil_of_packages_times_price(q, size, price):
    b = Package(package_size=size, package_price=price).breakdown(q)
    packages = math.ceil(Fraction(q) / Fraction(size))
    assert b.packages == packages
    assert b.exact_amount == packages * price


@given(quantities, quantities, prices, tier_lists())
def test_free_threshold_never_makes_amounts_negative(q, free, unit_price, tiers):
    for price in (PerUnit(unit_price=unit_price, free_threshold=free),
                  Graduated(tiers=tiers, free_threshold=free), Volume(tiers=tiers, free_threshold=free)):
        b = price.breakdown(q)
        assert b.billable_units == max(D(0), q - free) >= 0
        assert b.free_units + b.billable_units == q
        assert b.exact_amount >= 0


currencies = st.sampled_from(["USD", "EUR", "JPY", "KRW", "KWD", "BHD"])


@given(tier_lists(), quantities, currencies)
def test_line_is_rounded_once_from_exact_tier_amounts(tiers, q, currency):
    for price in (Graduated(tiers=tiers), Volume(tiers=tiers)):
        line = price_line(q, price, currency)
        assert line.amount == round_amount(sum((t.amount for t in line.tiers), D(0)), currency)


@given(quantities, prices, currencies)
def test_rounding_lands_on_the_minor_unit_half_up(q, unit_price, currency):
    line = price_line(q, PerUnit(unit_price=unit_price), currency)
    places = currency_exponent(currency)
    assert line.amount.as_tuple().exponent == -places  # JPY whole yen, KWD 3 places, USD cents
    error = line.amount - line.exact_amount
    half = D(1).scaleb(-places) / 2
    assert -half < error <= half  # nearest, ties up
    assert line.amount_minor == int(line.amount.scaleb(places))


@given(quantities, prices, st.decimals(min_value=0, max_value=1000, places=4),
       st.decimals(min_value=0, max_value=1000, places=4))
def test_minimum_and_maximum_clamp(q, unit_price, a, b):
    minimum, maximum = sorted((a, b))
    bd = PerUnit(unit_price=unit_price, minimum=minimum, maximum=maximum).breakdown(q)
    assert bd.subtotal == q * unit_price
    assert bd.exact_amount == min(max(bd.subtotal, minimum), maximum)
    assert minimum <= bd.exact_amount <= maximum


@given(tier_lists(), quantities, st.booleans())
def test_dict_round_trip_preserves_pricing(tiers, free, volume):
    price = (Volume if volume else Graduated)(tiers=tiers, free_threshold=free)
    again = price_from_dict(price.to_dict())
    assert again == price
    assert again.breakdown(free * 3).exact_amount == price.breakdown(free * 3).exact_amount
