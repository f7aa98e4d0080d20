"""Currencies, the single ROUND_HALF_UP rule and Money <-> minor units."""

from decimal import Decimal as D

import pytest

from meterbase.errors import ValidationError
from meterbase.pricing import Money, currency_exponent, from_minor, round_amount, to_minor


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("USD", 2), ("EUR", 2), ("GBP", 2), ("INR", 2), ("CAD", 2), ("AUD", 2),
     ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("usd", 2)],
)
def test_minor_unit_table(code, exponent):
    assert currency_exponent(code) == exponent


def test_unknown_currency_is_a_validation_error_on_currency():
    with pytest.raises(ValidationError) as err:
        currency_exponent("XYZ")
    assert err.value.field == "currency"
    assert "XYZ" in err.value.message


@pytest.mark.parametrize(
    ("exact", "currency", "rounded"),
    [
        (D("0.005"), "USD", D("0.01")),  # half goes up
        (D("0.0049999"), "USD", D("0.00")),
        (D("-0.005"), "USD", D("-0.01")),  # half-up is away from zero
        (D("13.98000"), "USD", D("13.98")),
        (D("30"), "USD", D("30.00")),
        (D("0.5"), "JPY", D("1")),
        (D("1234.49"), "JPY", D("1234")),
        (D("0.0005"), "KWD", D("0.001")),
        (D("1.23449"), "KWD", D("1.234")),
        (D("2.5"), "KRW", D("3")),
    ],
)
def test_round_half_up_to_minor_unit(exact, currency, rounded):
    result = round_amount(exact, currency)
    assert result == rounded
    assert result.as_tuple().exponent == -currency_exponent(currency)


def test_minor_unit_conversions():
    assert to_minor(D("30.00"), "USD") == 3000
    assert to_minor(D("1234"), "JPY") == 1234
    assert to_minor(D("1.234"), "KWD") == 1234
    assert from_minor(3000, "USD") == D("30.00")
    assert str(from_minor(1234, "KWD")) == "1.234"
    assert str(from_minor(5, "JPY")) == "5"
    with pytest.raises(ValidationError) as err:
        to_minor(D("0.001"), "USD")
    assert err.value.field == "amount"


def test_money_normalises_and_round_trips():
    m = Money(D("30"), "usd")
    assert (m.amount, m.currency, m.minor) == (D("30.00"), "USD", 3000)
    assert str(m.amount) == "30.00"
    assert Money.from_minor(3000, "USD") == m
    assert Money.of(D("4.495"), "USD").amount == D("4.50")
    assert Money.of(D("99.5"), "JPY").minor == 100
    assert str(m) == "30.00 USD"


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [(D("0.001"), "USD", "amount"), (D("0.5"), "JPY", "amount"), (D("1"), "XXX", "currency"),
     (0.5, "USD", "amount"), (D("NaN"), "USD", "amount")],
)
def test_money_rejects_unrepresentable(amount, currency, field):
    with pytest.raises(ValidationError) as err:
        Money(amount, currency)
    assert err.value.field == field
