"""Unit strings: exact conversion of ``'90s'``, ``'1500ms'``, ``'10GB'``, ``'1GiB'`` or bare numbers.

A credit may declare ``stof_units`` (``s``, ``ms``, ``GB``, ``B``...); every amount, limit value and tier
bound for it is then converted into that unit with exact ``Decimal`` arithmetic. A bare number is taken to be
in the credit's unit already. Units belong to a dimension (time, whose base is the second, or bytes); mixing
dimensions, unknown units, floats, non-finite values and conversions that would need rounding (``'1s'`` into
a ``min`` credit) are rejected with :class:`~meterbase.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, Inexact, InvalidOperation, localcontext

from ..errors import ValidationError

TIME = "time"
BYTES = "bytes"

_KILO, _KIBI = Decimal(1000), Decimal(1024)

#: unit -> (dimension, size in the dimension's base unit: seconds or bytes)
UNITS: dict[str, tuple[str, Decimal]] = {
    "ms": (TIME, Decimal("0.001")),
    **{u: (TIME, Decimal(1)) for u in ("s", "sec", "secs")},
    **{u: (TIME, Decimal(60)) for u in ("min", "mins")},
    **{u: (TIME, Decimal(3600)) for u in ("h", "hr", "hrs")},
    **{u: (TIME, Decimal(86400)) for u in ("day", "days")},
    "B": (BYTES, Decimal(1)),
    **{u: (BYTES, _KILO**i) for i, u in enumerate(("KB", "MB", "GB", "TB"), start=1)},
    **{u: (BYTES, _KIBI**i) for i, u in enumerate(("KiB", "MiB", "GiB", "TiB"), start=1)},
}

_QUANTITY_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+)?\s*$")

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
        match = _QUANTITY_RE.match(value)
        if match is None:
            raise ValidationError(f"not a number or unit string: {value!r}", field)
        number, unit = match.groups()
        return Quantity(Decimal(number), None if unit is None else check_unit(unit, field))
    raise ValidationError(f"expected a number or unit string, got {type(value).__name__}", field)


def exact(value: Decimal) -> Decimal:
    """``value`` without exponent noise: ``1.5E+3`` -> ``1500``, ``1.500`` -> ``1.5``."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    sign, digits, exponent = value.as_tuple()
    while digits[-1] == 0:
        digits, exponent = digits[:-1], int(exponent) + 1
    return Decimal((sign, digits, exponent))


def convert(value: object, to_unit: str | None, field: str | None = None) -> Decimal:
    """Exact amount of ``value`` expressed in ``to_unit`` (a credit's ``stof_units``; ``None`` = plain count)."""
    qty = parse_quantity(value, field)
    if qty.unit is None or qty.unit == to_unit:
        return exact(qty.value)
    if to_unit is None:
        raise ValidationError(f"{value!r} has unit {qty.unit!r} but the credit counts plain numbers", field)
    src_dim, src_size = UNITS[qty.unit]
    dst_dim, dst_size = UNITS[check_unit(to_unit, field)]
    if src_dim != dst_dim:
        raise ValidationError(f"{value!r} is {src_dim}, but the credit is counted in {to_unit!r} ({dst_dim})", field)
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        try:
            result = qty.value * src_size / dst_size
        except (Inexact, InvalidOperation):
            raise ValidationError(f"{value!r} is not an exact number of {to_unit!r}", field) from None
    return exact(result)


def parse_duration(value: object, field: str | None = None) -> timedelta:
    """Exact duration of ``'30days'``, ``'1hr'``, ``'1500ms'`` (a bare number means seconds)."""
    seconds = convert(value, "s", field)
    micros = seconds * 1_000_000
    if micros != micros.to_integral_value():
        raise ValidationError(f"{value!r} is finer than a microsecond", field)
    return timedelta(microseconds=int(micros))
