"""Metadata value semantics: numeric coercion (numbers may arrive as strings) and text form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..exact import in_quantity_range, plain_text

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def parse_number(value: object) -> Decimal | None:
    """The exact finite number a metadata value denotes, unbounded, or None when it is not a number.

    ``1500`` and ``"1500"`` are both 1500; floats go through their shortest repr so ``0.1`` is
    exactly ``Decimal("0.1")``; booleans are not numbers; strings longer than 100 characters are not
    numbers either. Filters compare with this; aggregation takes only :func:`to_decimal`'s range.
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
    if isinstance(value, str) and len(value) <= 100 and _NUMBER_RE.match(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - regex guards it
            return None
    return None


def to_decimal(value: object) -> Decimal | None:
    """Exact numeric value of a metadata value for aggregation, or None when it is not a number in the
    quantity range (``exact``: below 1e30 in magnitude, at most 30 decimal places -- the range pricing
    accepts too). Anything else is "not a number" for a meter (counted as rejected), never an overflow."""
    d = parse_number(value)
    return d if d is not None and in_quantity_range(d) else None


def to_text(value: object) -> str:
    """Canonical text of a metadata value, used for string comparison and grouping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def decimal_text(d: Decimal) -> str:
    """Plain (non-scientific) exact decimal text without trailing zeros, whatever the number of digits."""
    return plain_text(d)
