"""Unit strings: exact conversion into a credit's stof_units, durations, and the errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from meterbase.errors import ValidationError
from meterbase.units import Quantity, convert, parse_duration, parse_quantity


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("10hr", "s", Decimal(36000)),
        ("1hr", "s", Decimal(3600)),
        ("1h", "s", Decimal(3600)),
        ("90s", "s", Decimal(90)),
        ("90sec", "s", Decimal(90)),
        ("2min", "s", Decimal(120)),
        ("1500ms", "s", Decimal("1.5")),
        ("1day", "s", Decimal(86400)),
        ("30days", "s", Decimal(2_592_000)),
        ("1.5s", "ms", Decimal(1500)),
        ("90s", "min", Decimal("1.5")),
        ("10GB", "B", Decimal(10_000_000_000)),
        ("1KB", "B", Decimal(1000)),
        ("1TB", "GB", Decimal(1000)),
        ("1GiB", "B", Decimal(1_073_741_824)),
        ("1KiB", "B", Decimal(1024)),
        ("1GiB", "GB", Decimal("1.073741824")),
        ("250MB", "MB", Decimal(250)),
        (" 2 min ", "s", Decimal(120)),
        ("1e3ms", "s", Decimal(1)),
        # bare numbers are already in the credit's unit
        (3601, "s", Decimal(3601)),
        (Decimal("2.50"), "s", Decimal("2.5")),
        ("42", None, Decimal(42)),
        ("0.000", "s", Decimal(0)),
        # Stof's long spellings (Limitr accepts them in amounts and limit values)
        ("2hours", "s", Decimal(7200)),
        ("3minutes", "s", Decimal(180)),
        ("90seconds", "min", Decimal("1.5")),
        ("1500milliseconds", "s", Decimal("1.5")),
        ("250microseconds", "ms", Decimal("0.25")),
        ("2megabytes", "KB", Decimal(2000)),
        ("1gibibytes", "MiB", Decimal(1024)),
        ("8bits", "bytes", Decimal(1)),
        ("1.5GB", "MB", Decimal(1500)),
        ("1GB", "MiB", Decimal("953.67431640625")),
        ("512MiB", "GB", Decimal("0.536870912")),
        ("1TiB", "GiB", Decimal(1024)),
        ("1PB", "TB", Decimal(1000)),
        ("1km", "m", Decimal(1000)),
        ("1mi", "ft", Decimal(5280)),
        ("1lb", "g", Decimal("453.59237")),
        ("-5s", "ms", Decimal(-5000)),  # refunds are negative amounts
        ("12", "float", Decimal(12)),  # Limitr's stof_units 'float': plain numbers
    ],
)
def test_convert(value: object, unit: str | None, expected: Decimal) -> None:
    result = convert(value, unit)
    assert result == expected
    assert "E" not in str(result), "results carry no exponent noise"


def test_results_are_plain_decimals() -> None:
    assert str(convert("1500ms", "s")) == "1.5"
    assert str(convert("10hr", "s")) == "36000"


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        ("10parsecs", "s", "unknown unit 'parsecs'"),
        ("1hour", "s", "unknown unit 'hour'"),  # Stof spells it hr or hours
        ("1minute", "s", "unknown unit 'minute'"),
        ("1e30", "s", "must be below 1e30 in magnitude"),
        ("1e-31", "s", "at most 30 decimal places"),
        ("1e29GB", "bytes", "must be below 1e30"),
        ("10gb", "B", "unknown unit 'gb'"),
        ("1GB", "s", "is bytes, but the credit is counted in 's' (time)"),
        ("90s", "B", "is time, but the credit is counted in 'B' (bytes)"),
        ("90s", None, "the credit counts plain numbers"),
        ("1s", "min", "not an exact number of 'min'"),
        ("ten", "s", "not a number or unit string"),
        ("", "s", "not a number or unit string"),
        ("NaN", "s", "not a number or unit string"),
        (1.5, "s", "got a float"),
        (True, "s", "got a boolean"),
        (Decimal("Infinity"), "s", "not a finite number"),
        (None, "s", "got NoneType"),
    ],
)
def test_convert_errors(value: object, unit: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        convert(value, unit, "amount")
    assert message in info.value.message
    assert info.value.field == "amount"


def test_parse_quantity_keeps_unit() -> None:
    assert parse_quantity("1.25GiB") == Quantity(Decimal("1.25"), "GiB")
    assert parse_quantity(7) == Quantity(Decimal(7), None)


def test_parse_duration() -> None:
    assert parse_duration("30days") == timedelta(days=30)
    assert parse_duration("1500ms") == timedelta(seconds=1, milliseconds=500)
    assert parse_duration("1hr") == timedelta(hours=1)
    assert parse_duration(90) == timedelta(seconds=90)
    with pytest.raises(ValidationError, match="finer than a microsecond"):
        parse_duration("0.0000001s")
    with pytest.raises(ValidationError, match="is bytes"):
        parse_duration("1GB", "reset_inc")
