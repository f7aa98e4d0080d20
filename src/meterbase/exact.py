"""Exact decimal arithmetic shared by metering, pricing and every surface that prints a number.

``EXACT`` has 100 significant digits and traps ``Inexact``: an operation that would round raises
instead. ``WIDE`` is the same precision without the trap, for the deliberate roundings (money).

The **quantity range** is one definition for metering and pricing: a metered value (and so a
quantity priced) is below ``10**QUANTITY_INTEGER_DIGITS`` in magnitude with at most
``QUANTITY_SCALE`` decimal places. Sums of up to 10^18 such values stay exact in ``EXACT``, and a
quantity times a price (≤ 18 + 18 digits) fits too.

Nothing here depends on the thread's decimal context (Python's default context has 28 digits and
would round or raise on larger values): :func:`plain_text` formats, :func:`exact_sum` adds,
:func:`round_quantity` and :func:`quotient` round by THE QUANTITY RULE -- half-up (halves away
from zero) to ``QUANTITY_SCALE`` decimal places, the only rounding of a meter value (it applies to
``avg`` and nothing else, since every other aggregation of in-range values is already exact).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from typing import Iterable

EXACT = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
WIDE = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])

#: A quantity is below 1e30 in magnitude ...
QUANTITY_INTEGER_DIGITS = 30
#: ... with at most 30 decimal places.
QUANTITY_SCALE = 30
ZERO = Decimal(0)


def scale(d: Decimal) -> int:
    """Decimal places ``d`` really needs (trailing zeros ignored: ``1.500`` -> 1, ``1E+3`` -> 0)."""
    _, digits, exp = d.as_tuple()
    if not isinstance(exp, int) or not any(digits):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exp + trailing))


def in_quantity_range(d: Decimal) -> bool:
    """True for a finite ``d`` with ``|d| < 10**QUANTITY_INTEGER_DIGITS`` and ≤ ``QUANTITY_SCALE`` places."""
    if not d.is_finite():
        return False
    if not d:
        return True
    if d.adjusted() >= QUANTITY_INTEGER_DIGITS:
        return False
    # scale(d) <= -exponent: most values (1532, "0.125") pass without counting trailing zeros
    return d.as_tuple().exponent >= -QUANTITY_SCALE or scale(d) <= QUANTITY_SCALE


def _from_int(units: int, places: int) -> Decimal:
    return Decimal(f"{units}E-{places}")  # the constructor is exact whatever the context


def quotient(numerator: Decimal, denominator: int, places: int = QUANTITY_SCALE) -> Decimal:
    """``numerator / denominator`` rounded half-up to ``places`` decimals, exactly (integer arithmetic)."""
    if denominator <= 0:
        raise ValueError("denominator must be a positive integer")
    sign, digits, exp = numerator.as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    shift = exp + places  # numerator * 10**places == mantissa * 10**shift
    num, den = (mantissa * 10**shift, denominator) if shift >= 0 else (mantissa, denominator * 10**-shift)
    q, r = divmod(num, den)
    if 2 * r >= den:
        q += 1
    return _from_int(-q if sign else q, places)


def round_quantity(d: Decimal) -> Decimal:
    """THE QUANTITY RULE: ``d`` rounded half-up to ``QUANTITY_SCALE`` places (unchanged when it has fewer)."""
    if scale(d) <= QUANTITY_SCALE:
        return d
    if d.adjusted() < -QUANTITY_SCALE - 1:  # |d| < 1e-31: below half the last place, rounds to zero
        return ZERO
    return quotient(d, 1)


def exact_sum(values: Iterable[Decimal], start: Decimal = ZERO) -> Decimal:
    """Sum in ``EXACT`` (raises rather than rounds; the built-in ``sum`` rounds at 28 digits)."""
    total = start
    for v in values:
        total = EXACT.add(total, v)
    return total


def plain_text(d: Decimal) -> str:
    """Exact plain text of a finite Decimal: no exponent, no trailing zeros (``1E+3`` -> ``'1000'``,
    ``2.50`` -> ``'2.5'``, ``-0`` -> ``'0'``), every digit kept whatever its length."""
    if not d.is_finite():
        raise ValueError(f"not a finite number: {d}")
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
