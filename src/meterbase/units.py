"""Unit strings: exact conversion of ``'90s'``, ``'1500ms'``, ``'10GB'``, ``'1GiB'`` or bare numbers.

Shared by the policy engine (credits' ``stof_units``, limit values, amounts) and live sessions. A credit may
declare ``stof_units`` (``s``, ``ms``, ``GB``, ``bytes``...); every amount, limit value and tier bound for it is
then converted into that unit with exact ``Decimal`` arithmetic. A bare number is taken to be in the credit's
unit already; ``stof_units: float`` (Limitr's default) means plain numbers.

Spellings follow Stof, the language Limitr runs on (``s``/``seconds``, ``hr``/``hours``, ``MB``/``megabytes``,
``MiB``/``mebibytes``, ``bits``, ``km``, ``kg``...), plus five meterbase has always accepted and Limitr refuses:
``sec``, ``secs``, ``mins``, ``h``, ``hrs`` and ``B`` (:data:`METERBASE_ONLY`). Units belong to a dimension
(time, bytes, length, mass); mixing dimensions, unknown units, floats, non-finite values, conversions that would
need rounding (``'1s'`` into a ``min`` credit) and amounts outside :func:`meterbase.exact.in_quantity_range`
(the bounds events are aggregated within) are rejected with
:class:`~meterbase.errors.ValidationError` naming the field. Stof's temperature and angle units are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, Inexact, InvalidOperation, localcontext

from .errors import ValidationError
from .exact import QUANTITY_INTEGER_DIGITS, QUANTITY_SCALE, in_quantity_range

TIME = "time"
BYTES = "bytes"
LENGTH = "length"
MASS = "mass"
PLAIN = "float"
"""Limitr's ``stof_units`` for plain numbers (no conversion)."""

_K, _KI = Decimal(1000), Decimal(1024)


def _units(dimension: str, table: dict[tuple[str, ...], Decimal | int | str]) -> dict[str, tuple[str, Decimal]]:
    return {name: (dimension, Decimal(size)) for names, size in table.items() for name in names}


#: unit -> (dimension, size in the dimension's base unit: seconds, bytes, metres or grams)
UNITS: dict[str, tuple[str, Decimal]] = {
    **_units(TIME, {
        ("ns", "nanoseconds"): "1e-9", ("us", "microseconds"): "1e-6", ("ms", "milliseconds"): "0.001",
        ("s", "second", "seconds", "sec", "secs"): 1, ("min", "minutes", "mins"): 60,
        ("hr", "hours", "h", "hrs"): 3600, ("day", "days"): 86400,
    }),
    **_units(BYTES, {
        ("bit", "bits"): "0.125", ("byte", "bytes", "B"): 1,
        **{(short, long): _K**i for i, (short, long) in enumerate(
            (("KB", "kilobytes"), ("MB", "megabytes"), ("GB", "gigabytes"), ("TB", "terabytes"), ("PB", "petabytes"),
             ("EB", "exabytes"), ("ZB", "zettabytes"), ("YB", "yottabytes")), start=1)},
        **{(short, long): _KI**i for i, (short, long) in enumerate(
            (("KiB", "kibibytes"), ("MiB", "mebibytes"), ("GiB", "gibibytes"), ("TiB", "tebibytes"),
             ("PiB", "pebibytes"), ("EiB", "exbibytes"), ("ZiB", "zebibytes"), ("YiB", "yobibytes")), start=1)},
    }),
    **_units(LENGTH, {
        ("km", "kilometers"): 1000, ("hm", "hectometers"): 100, ("dcm", "decameters"): 10, ("m", "meters"): 1,
        ("dm", "decimeters"): "0.1", ("cm", "centimeters"): "0.01", ("mm", "millimeters"): "0.001",
        ("um", "micrometers"): "1e-6", ("nm", "nanometers"): "1e-9",
        ("mi", "miles"): "1609.344", ("yd", "yards"): "0.9144", ("ft", "feet"): "0.3048", ("in", "inches"): "0.0254",
    }),
    **_units(MASS, {
        ("Gt", "gigatonnes"): "1e15", ("Mt", "megatonnes"): "1e12", ("t", "tonnes"): "1e6", ("kg", "kilograms"): 1000,
        ("g", "grams"): 1, ("mg", "milligrams"): "0.001", ("ug", "micrograms"): "1e-6", ("ng", "nanograms"): "1e-9",
        ("pg", "picograms"): "1e-12", ("tons", "Ton"): "907184.74", ("lb", "lbs"): "453.59237",
        ("oz", "ounces"): "28.349523125",
    }),
}
METERBASE_ONLY = ("sec", "secs", "mins", "h", "hrs", "B")
"""Spellings meterbase accepts and Limitr (Stof) refuses; kept so stored documents keep loading."""

_QUANTITY_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+)?\s*$")
_BOUND = f"1e{QUANTITY_INTEGER_DIGITS}"

Amount = int | Decimal | str
"""What callers may pass as an amount: an int, a finite Decimal, or a (unit) string."""


@dataclass(frozen=True)
class Quantity:
    """A parsed amount: ``value`` in ``unit`` (``None`` for a bare number)."""

    value: Decimal
    unit: str | None = None


def check_unit(unit: str, field: str | None = None) -> str:
    """Return ``unit`` when it is known, else raise naming the accepted units."""
    if unit not in UNITS:
        raise ValidationError(f"unknown unit {unit!r} (known: {', '.join(UNITS)})", field)
    return unit


def plain_units(unit: str | None) -> str | None:
    """A credit's ``stof_units`` with Limitr's ``float`` (no conversion) read as None."""
    return None if unit == PLAIN else unit


def parse_quantity(value: object, field: str | None = None) -> Quantity:
    """Parse an int, Decimal or string such as ``'2.5'`` or ``'90 s'`` into a :class:`Quantity`."""
    if isinstance(value, bool) or isinstance(value, float):
        kind = "a boolean" if isinstance(value, bool) else "a float (pass an int, a Decimal or a string)"
        raise ValidationError(f"expected a number or unit string, got {kind}", field)
    if isinstance(value, int):
        return Quantity(Decimal(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"not a finite number: {value}", field)
        return Quantity(value)
    if isinstance(value, str):
        match = _QUANTITY_RE.match(value) if len(value) <= 100 else None
        if match is None:
            raise ValidationError(f"not a number or unit string: {value[:100]!r}", field)
        number, unit = match.groups()
        return Quantity(Decimal(number), None if unit is None else check_unit(unit, field))
    raise ValidationError(f"expected a number or unit string, got {type(value).__name__}", field)


def exact(value: Decimal) -> Decimal:
    """``value`` without exponent noise: ``1.5E+3`` -> ``1500``, ``1.500`` -> ``1.5`` (never rounds)."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    sign, digits, exponent = value.as_tuple()
    while digits[-1] == 0:
        digits, exponent = digits[:-1], int(exponent) + 1
    return Decimal((sign, digits, exponent))


def bounded(value: Decimal, field: str | None = None) -> Decimal:
    """``value`` when events could aggregate it (magnitude below 1e30, at most 30 decimal places), else raise."""
    if not in_quantity_range(value):
        raise ValidationError(
            f"{field or 'value'} must be below {_BOUND} in magnitude with at most {QUANTITY_SCALE} decimal places", field
        )
    return value


def convert(value: object, to_unit: str | None, field: str | None = None) -> Decimal:
    """Exact amount of ``value`` expressed in ``to_unit`` (a credit's ``stof_units``; ``None`` = plain count)."""
    qty = parse_quantity(value, field)
    to_unit = plain_units(to_unit)
    if qty.unit is None or qty.unit == to_unit:
        return bounded(exact(qty.value), field)
    if to_unit is None:
        raise ValidationError(f"{value!r} has unit {qty.unit!r} but the credit counts plain numbers", field)
    src_dim, src_size = UNITS[qty.unit]
    dst_dim, dst_size = UNITS[check_unit(to_unit, field)]
    if src_dim != dst_dim:
        raise ValidationError(f"{value!r} is {src_dim}, but the credit is counted in {to_unit!r} ({dst_dim})", field)
    with localcontext() as ctx:
        ctx.prec = 100
        ctx.traps[Inexact] = True
        try:
            result = qty.value * src_size / dst_size
        except (Inexact, InvalidOperation):
            raise ValidationError(f"{value!r} is not an exact number of {to_unit!r}", field) from None
    return bounded(exact(result), field)


def parse_duration(value: object, field: str | None = None) -> timedelta:
    """Exact duration of ``'30days'``, ``'1hr'``, ``'1500ms'`` (a bare number means seconds)."""
    seconds = convert(value, "s", field)
    micros = seconds * 1_000_000
    if micros != micros.to_integral_value():
        raise ValidationError(f"{value!r} is finer than a microsecond", field)
    if abs(micros) > 10**17:  # far beyond timedelta's ±999,999,999 days
        raise ValidationError(f"{value!r} is too long a duration", field)
    return timedelta(microseconds=int(micros))
