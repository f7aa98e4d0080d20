"""Exact decimal arithmetic for pricing: input coercion with bounds, and the exact context.

This module owns the guarantee that pricing never rounds by accident. Every number entering the
pricing core goes through :func:`to_decimal`, which accepts ``Decimal``, ``int`` and numeric
strings (a JSON float is taken by its shortest repr, so ``0.02`` is exactly ``Decimal('0.02')``;
it is never computed with), and bounds it to at most ``MAX_SCALE`` decimal places and a magnitude
below ``10**MAX_INTEGER_DIGITS``. A *quantity* (what a meter measured) takes the wider quantity range
of ``exact`` instead (below 1e30, at most 30 places): the range metering accepts, so every value a
meter can hold prices. With those bounds every product and sum a price model forms fits in
``EXACT``'s 100 significant digits (a 60-digit quantity times a 36-digit price), and ``EXACT`` traps
``Inexact`` so a silent rounding is impossible: the only rounding in meterbase billing is
``money.round_amount``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

from ..errors import ValidationError
from ..exact import EXACT, QUANTITY_INTEGER_DIGITS, QUANTITY_SCALE, WIDE
from ..events.values import parse_number

MAX_SCALE = 18
MAX_INTEGER_DIGITS = 18
__all__ = ["EXACT", "WIDE", "exact", "to_decimal", "optional_decimal", "quantity", "text"]


def exact() -> AbstractContextManager[Context]:
    """``with exact():`` -- arithmetic that raises rather than rounds."""
    return localcontext(EXACT)


def to_decimal(value: object, field: str, *, positive: bool = False,
               integer_digits: int = MAX_INTEGER_DIGITS, places: int = MAX_SCALE) -> Decimal:
    """Validate and coerce a non-negative (or, with ``positive``, strictly positive) number below
    ``10**integer_digits`` with at most ``places`` decimal places."""
    number = parse_number(value)
    if number is None:
        raise ValidationError(f"{field} must be a finite number (a string like '0.02' is safest)", field)
    if number < 0:
        raise ValidationError(f"{field} must not be negative", field)
    if positive and number == 0:
        raise ValidationError(f"{field} must be greater than zero", field)
    if number and number.adjusted() >= integer_digits:
        raise ValidationError(f"{field} must be below 1e{integer_digits}", field)
    try:
        number.quantize(Decimal(1).scaleb(-places), context=EXACT)
    except (Inexact, InvalidOperation):
        raise ValidationError(f"{field} has more than {places} decimal places", field) from None
    return number.copy_abs()  # exact (abs() would round to the context); turns -0 into 0


def quantity(value: object, field: str = "quantity") -> Decimal:
    """A quantity to price: non-negative, in the quantity range metering accepts (see ``exact``)."""
    return to_decimal(value, field, integer_digits=QUANTITY_INTEGER_DIGITS, places=QUANTITY_SCALE)


def optional_decimal(value: object, field: str, *, positive: bool = False) -> Decimal | None:
    return None if value is None else to_decimal(value, field, positive=positive)


def text(value: Decimal) -> str:
    """Plain, non-scientific text of a Decimal for serialisation (``1E+3`` -> ``'1000'``)."""
    return format(value, "f")
