"""Exact decimal arithmetic for pricing: input coercion with bounds, and the exact context.

This module owns the guarantee that pricing never rounds by accident. Every number entering the
pricing core goes through :func:`to_decimal`, which accepts ``Decimal``, ``int`` and numeric
strings (a JSON float is taken by its shortest repr, so ``0.02`` is exactly ``Decimal('0.02')``;
it is never computed with), and bounds it to at most ``MAX_SCALE`` decimal places and a magnitude
below ``10**MAX_INTEGER_DIGITS``. With those bounds every product and sum a price model forms fits
in ``EXACT``'s 100 significant digits, and ``EXACT`` traps ``Inexact`` so a silent rounding is
impossible: the only rounding in meterbase billing is ``money.round_amount``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Context, Decimal, Inexact, localcontext

from ..errors import ValidationError
from ..exact import EXACT, WIDE
from ..events.values import to_decimal as _number

MAX_SCALE = 18
MAX_INTEGER_DIGITS = 18
_SCALE_QUANTUM = Decimal(1).scaleb(-MAX_SCALE)
__all__ = ["EXACT", "WIDE", "exact", "to_decimal", "optional_decimal", "text"]


def exact() -> AbstractContextManager[Context]:
    """``with exact():`` -- arithmetic that raises rather than rounds."""
    return localcontext(EXACT)


def to_decimal(value: object, field: str, *, positive: bool = False) -> Decimal:
    """Validate and coerce a non-negative (or, with ``positive``, strictly positive) number."""
    number = _number(value)
    if number is None:
        raise ValidationError(f"{field} must be a finite number (a string like '0.02' is safest)", field)
    if number < 0:
        raise ValidationError(f"{field} must not be negative", field)
    if positive and number == 0:
        raise ValidationError(f"{field} must be greater than zero", field)
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValidationError(f"{field} must be below 1e{MAX_INTEGER_DIGITS}", field)
    try:
        number.quantize(_SCALE_QUANTUM, context=EXACT)
    except Inexact:
        raise ValidationError(f"{field} has more than {MAX_SCALE} decimal places", field) from None
    return number.copy_abs()  # exact (abs() would round to the context); turns -0 into 0


def optional_decimal(value: object, field: str, *, positive: bool = False) -> Decimal | None:
    return None if value is None else to_decimal(value, field, positive=positive)


def text(value: Decimal) -> str:
    """Plain, non-scientific text of a Decimal for serialisation (``1E+3`` -> ``'1000'``)."""
    return format(value, "f")
