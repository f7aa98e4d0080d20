"""Metadata value semantics: numeric coercion (numbers may arrive as strings) and text form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def to_decimal(value: object) -> Decimal | None:
    """Exact numeric value of a metadata value, or None when it is not a finite number.

    ``1500`` and ``"1500"`` are both 1500; floats go through their shortest repr so ``0.1`` is
    exactly ``Decimal("0.1")``; booleans are not numbers.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMBER_RE.match(value):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - regex guards it
            return None
        return d if d.is_finite() else None
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
