"""Metadata value semantics: numeric coercion (numbers may arrive as strings) and text form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
#: A metered quantity is below 1e30 in magnitude with at most 30 decimal places, so sums of up to
#: 10^18 of them are exact within ``exact.EXACT``'s 100 digits. Anything else is "not a number" for
#: aggregation (counted as rejected), never an overflow.
MAX_ADJUSTED_EXPONENT = 29
MIN_EXPONENT = -30


def _bounded(d: Decimal) -> Decimal | None:
    if not d.is_finite():
        return None
    if d and (d.adjusted() > MAX_ADJUSTED_EXPONENT or d.normalize().as_tuple().exponent < MIN_EXPONENT):
        return None
    return d


def to_decimal(value: object) -> Decimal | None:
    """Exact numeric value of a metadata value, or None when it is not a bounded finite number.

    ``1500`` and ``"1500"`` are both 1500; floats go through their shortest repr so ``0.1`` is
    exactly ``Decimal("0.1")``; booleans are not numbers.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _bounded(Decimal(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return _bounded(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, str) and len(value) <= 100 and _NUMBER_RE.match(value):
        try:
            return _bounded(Decimal(value.strip()))
        except InvalidOperation:  # pragma: no cover - regex guards it
            return None
    return None


def to_text(value: object) -> str:
    """Canonical text of a metadata value, used for string comparison and grouping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def decimal_text(d: Decimal) -> str:
    """Plain (non-scientific) decimal text without a trailing ``.0`` noise."""
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    text = format(d.normalize(), "f")
    return text
