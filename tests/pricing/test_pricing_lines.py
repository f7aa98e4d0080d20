"""Lines (one rounding per line) and fixed-fee proration."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from meterbase.errors import ValidationError
from meterbase.pricing import Graduated, Money, PerUnit, PriceTier, price_line, proration

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 31, tzinfo=UTC)  # 30 days


def test_line_rounds_once_not_per_tier():
    price = Graduated(tiers=[PriceTier(D(1), D("0.005")), PriceTier(None, D("0.005"))])
    line = price_line(2, price, "USD")
    assert [t.amount for t in line.tiers] == [D("0.005"), D("0.005")]
    assert line.exact_amount == D("0.010")
    assert line.amount == D("0.01")  # rounding each tier first would give 0.02


def test_line_currency_and_serialisation():
    line = price_line("2500", PerUnit(unit_price=D("0.02"), free_threshold=D(1000)), "usd")
    assert line.currency == "USD"
    assert line.money == Money(D("30.00"), "USD")
    assert line.to_dict() == {
        "model": "per_unit", "quantity": "2500", "free_units": "1000", "billable_units": "1500",
        "unit_price": "0.02", "tiers": [], "packages": None, "subtotal": "30.00",
        "exact_amount": "30.00", "amount": "30.00", "currency": "USD",
    }
    tier_dict = price_line(5, Graduated(tiers=[PriceTier(None, D("0.1"))]), "USD").to_dict()["tiers"]
    assert tier_dict == [{"from": "0", "to": None, "units": "5", "unit_price": "0.1", "flat_fee": "0",
                          "amount": "0.5"}]


def test_line_rounding_per_currency():
    price = PerUnit(unit_price=D("0.1235"))
    assert price_line(3, price, "USD").amount == D("0.37")  # 0.3705
    assert price_line(3, price, "JPY").amount == D("0")
    assert price_line(5, price, "JPY").amount == D("1")  # 0.6175
    assert price_line(3, price, "KWD").amount == D("0.371")  # 0.3705 -> half up
    assert str(price_line(3, price, "KWD").amount) == "0.371"


def test_line_rejects_bad_inputs():
    with pytest.raises(ValidationError) as err:
        price_line(1, PerUnit(unit_price=D(1)), "ABC")
    assert err.value.field == "currency"
    with pytest.raises(ValidationError) as err:
        price_line(-5, PerUnit(unit_price=D(1)), "USD")
    assert err.value.field == "quantity"
    with pytest.raises(ValidationError) as err:
        price_line(1, {"model": "flat"}, "USD")
    assert err.value.field == "price"


@pytest.mark.parametrize(
    ("fee", "change_at", "expected"),
    [
        (Money(D("30.00"), "USD"), START + timedelta(days=10), D("20.00")),
        (Money(D("30.00"), "USD"), START, D("30.00")),
        (Money(D("30.00"), "USD"), END, D("0.00")),
        (Money(D("10.00"), "USD"), START + timedelta(days=1), D("9.67")),  # 9.666...
        (Money(D("3000"), "JPY"), START + timedelta(days=1), D("2900")),
        (Money(D("10.000"), "KWD"), START + timedelta(days=7), D("7.667")),  # 7.6666...
    ],
)
def test_proration_of_remaining_period(fee, change_at, expected):
    result = proration(fee, START, END, change_at)
    assert result == Money(expected, fee.currency)


def test_proration_rounds_half_up_once():
    fee = Money(D("0.01"), "USD")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert proration(fee, start, start + timedelta(seconds=2), start + timedelta(seconds=1)).amount == D("0.01")
    assert proration(fee, start, start + timedelta(seconds=3), start + timedelta(seconds=2)).amount == D("0.00")


def test_proration_uses_elapsed_time_across_time_zones():
    paris = ZoneInfo("Europe/Paris")
    # 2025-03-30 lasts 23 hours in Paris (DST starts): 23:00 UTC on the 29th to 22:00 UTC on the 30th.
    start, end = datetime(2025, 3, 30, tzinfo=paris), datetime(2025, 3, 31, tzinfo=paris)
    assert end - start == timedelta(hours=24)  # same-tzinfo subtraction is wall-clock: the trap
    change_at = datetime(2025, 3, 30, 10, 30, tzinfo=UTC)  # 11.5 elapsed hours remain
    assert proration(Money(D("23.00"), "USD"), start, end, change_at).amount == D("11.50")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((D("1.00"), START, END, START), "amount"),
        ((Money(D(1), "USD"), START.replace(tzinfo=None), END, START), "period_start"),
        ((Money(D(1), "USD"), START, END.replace(tzinfo=None), START), "period_end"),
        ((Money(D(1), "USD"), START, END, "2025-01-05"), "change_at"),
        ((Money(D(1), "USD"), END, START, START), "period_end"),
        ((Money(D(1), "USD"), START, START, START), "period_end"),
        ((Money(D(1), "USD"), START, END, END + timedelta(seconds=1)), "change_at"),
        ((Money(D(1), "USD"), START, END, START - timedelta(microseconds=1)), "change_at"),
    ],
)
def test_proration_rejects_bad_inputs(args, field):
    with pytest.raises(ValidationError) as err:
        proration(*args)
    assert err.value.field == field
