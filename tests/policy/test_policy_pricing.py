"""Limitr's pricing curves (its own examples, src/tests/pricing.stof) and their algebra as properties."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbase.policy import Credit, CreditTier, Entitlement, Limit, allow, price_of, quantity_for, total_price
from meterbase.policy.pricing import band

BANDS = (D(100), D(1000), None)


def credit(model: str, prices: tuple[str, str, str] = ("0.01", "0.005", "0.001"), name: str = "tok") -> Credit:
    if model == "flat":
        return Credit(name, pricing_model="flat", price=D(prices[0]))
    return Credit(name, pricing_model=model, tiers=tuple(CreditTier(u, D(p)) for u, p in zip(BANDS, prices)))  # type: ignore[arg-type]


TIERED, VOLUME, FLAT = credit("tiered"), credit("volume"), credit("flat")
STEP = credit("stairstep", ("5", "20", "50"))


@pytest.mark.parametrize(("c", "n", "expected"), [
    (TIERED, 100, "1.0"), (TIERED, 1000, "5.5"), (TIERED, 2000, "6.5"),
    (VOLUME, 100, "1.0"), (VOLUME, 101, "0.505"), (VOLUME, 1001, "1.001"),
    (STEP, 0, "0"), (STEP, 1, "5"), (STEP, 100, "5"), (STEP, 101, "20"),
    (FLAT, 250, "2.5"), (TIERED, -5, "-0.05"), (STEP, -5, "0"),
])
def test_total_price(c: Credit, n: int, expected: str) -> None:
    assert total_price(c, D(n)) == D(expected)


@pytest.mark.parametrize(("c", "quantity", "offset", "expected"), [
    (TIERED, 100, 0, "1.0"), (TIERED, 100, 100, "0.5"), (TIERED, 50, 75, "0.375"),  # 25 @ .01 + 25 @ .005
    (TIERED, -5, 100, "-0.05"),  # a refund at the position
    (TIERED, 10, -5, "0.1"),  # included units (negative position) at the first rate
    (VOLUME, 1, 100, "-0.495"),  # crossing into a cheaper band reprices everything
    (VOLUME, 10, 200, "0.05"),
    (STEP, 50, 10, "0"), (STEP, 1, 100, "15"), (STEP, 10, -5, "5"),  # same band; step up; included units free
    (FLAT, 100, 5000, "1.0"),  # position does not matter
])
def test_price_of(c: Credit, quantity: int, offset: int, expected: str) -> None:
    assert price_of(c, D(quantity), D(offset)) == D(expected)


@pytest.mark.parametrize(("c", "money", "offset", "expected"), [
    (TIERED, "0.375", 75, 50), (TIERED, "1.0", 0, 100), (TIERED, "1.5", 0, 200), (TIERED, "6.5", 0, 2000),
    (TIERED, "0.1", -5, 10),
    (VOLUME, "0.5", 0, 50), (VOLUME, "0.05", 200, 10),
    (STEP, "5", 0, 100), (STEP, "10", 100, 0), (STEP, "15", 100, 900),
    (STEP, "100", 1000, None),  # the top band: every further unit already paid for
    (FLAT, "1.0", 5000, 100),
])
def test_quantity_for(c: Credit, money: str, offset: int, expected: int | None) -> None:
    got = quantity_for(c, D(money), D(offset))
    assert got == (None if expected is None else D(expected))


def test_unpriced_credit_has_no_price() -> None:
    free = Credit("free")
    assert not free.priced
    assert (total_price(free, D(5)), price_of(free, D(5)), quantity_for(free, D(1))) == (None, None, None)
    assert band(TIERED, D(1000)).price == D("0.005") and band(TIERED, D(1001)).price == D("0.001")


def test_a_bounded_last_band_keeps_its_price() -> None:
    bounded = Credit("b", pricing_model="tiered", tiers=(CreditTier(D(10), D(1)), CreditTier(D(20), D("0.5"))))
    assert total_price(bounded, D(30)) == D(10) + D(10) * D("0.5") + D(10) * D("0.5")


# ---------------------------------------------------------------------------------------------- properties

models = st.sampled_from(["flat", "tiered", "volume", "stairstep"])
prices = st.decimals(min_value=0, max_value=100, places=4).map(str)
quantities = st.decimals(min_value=-5000, max_value=5000, places=3)
positions = st.decimals(min_value=-2000, max_value=5000, places=3)


@st.composite
def credits(draw) -> Credit:
    model = draw(models)
    if model == "flat":
        return Credit("c", pricing_model="flat", price=D(draw(prices)))
    bounds = sorted(set(draw(st.lists(st.integers(min_value=1, max_value=3000), min_size=0, max_size=3))))
    tiers = [CreditTier(D(b), D(draw(prices))) for b in bounds] + [CreditTier(None, D(draw(prices)))]
    return Credit("c", pricing_model=model, tiers=tuple(tiers))  # type: ignore[arg-type]


@given(c=credits(), q=quantities, offset=positions)
def test_price_of_is_a_difference_of_totals(c: Credit, q: D, offset: D) -> None:
    assert price_of(c, q, offset) == total_price(c, offset + q) - total_price(c, offset)


@given(c=credits(), a=quantities, b=quantities, offset=positions)
def test_prices_of_consecutive_calls_add_up(c: Credit, a: D, b: D, offset: D) -> None:
    assert price_of(c, a, offset) + price_of(c, b, offset + a) == price_of(c, a + b, offset)


@given(c=credits(), q=quantities, offset=positions)
def test_a_refund_undoes_the_call_it_reverses(c: Credit, q: D, offset: D) -> None:
    assert price_of(c, -q, offset + q) == -price_of(c, q, offset)


@given(c=credits(), q=st.decimals(min_value=0, max_value=5000, places=3), offset=positions)
def test_prices_never_go_down_on_graduated_flat_and_rising_steps(c: Credit, q: D, offset: D) -> None:
    rising = all(a.price <= b.price for a, b in zip(c.tiers, c.tiers[1:]))
    if c.pricing_model in ("flat", "tiered") or (c.pricing_model == "stairstep" and rising):
        assert price_of(c, q, offset) >= 0


@given(c=credits(), money=st.decimals(min_value=0, max_value=500, places=4), offset=positions)
def test_quantity_for_buys_no_more_than_the_money(c: Credit, money: D, offset: D) -> None:
    units = quantity_for(c, money, offset)
    if units is None:  # a free flat price or a top band: every further unit is paid for
        return
    spent = price_of(c, units, offset)
    assert spent <= money
    continuous = (c.pricing_model == "flat" and c.price > 0) or (
        c.pricing_model == "tiered" and all(t.price > 0 for t in c.tiers))
    if continuous:
        assert money - spent <= D("1e-25")  # the money is spent, to the 30th decimal of a unit


@given(c=credits(), limit_value=st.decimals(min_value=0, max_value=3000, places=2),
       steps=st.lists(st.decimals(min_value=-3000, max_value=3000, places=3), max_size=25))
def test_a_periods_price_diffs_add_up_to_the_total_price_of_where_it_ended(c: Credit, limit_value: D, steps: list[D]) -> None:
    ent = Entitlement("e", limit=Limit(c, "soft", limit_value))
    used, priced, billed = D(0), D(0), D(0)
    for amount in steps:
        d = allow(ent, used, amount, billed=billed)
        priced += d.price_diff
        billed += d.overage
        assert d.overage_price == d.price_diff  # no covering balance: the whole worth is billed
        used = d.used_after
    assert priced == total_price(c, max(D(0), used - limit_value))
    assert billed == max(D(0), used - limit_value)
