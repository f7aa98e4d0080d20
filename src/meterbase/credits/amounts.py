"""Credit amounts (pure): parsing at an entitlement's precision, the one rounding rule, text form.

An entitlement fixes ``precision`` (0–10 decimal places) when it is created; every amount of its
ledger is an exact ``Decimal`` with at most that many places, below ``10**10`` (Dodo's bound).

* **Input is never rounded.** An amount a client sends with more places than the precision is
  refused (422 naming the field), so what is stored is what was asked for.
* **THE ROUNDING RULE for computed credits**: an amount the ledger computes (today: the rolled-over
  share ``remaining × rollover_percentage / 100``) is truncated toward zero (``ROUND_DOWN``) to the
  precision by :func:`truncate`. A cap is never exceeded, and the truncated fraction is not lost: it
  stays in the amount that expires with the old grant, so every unit is accounted for in the ledger.
* Money (overage priced in a currency) is rounded by ``pricing`` with its own rule (half-up to the
  minor unit, once per line).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, InvalidOperation

from ..errors import ValidationError
from ..exact import EXACT, WIDE

MAX_PRECISION = 10
#: Amounts are below 10**10 (Dodo stores them in NUMERIC(38,28): fewer than 10 integer digits).
MAX_INTEGER_DIGITS = 10
LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS
ZERO = Decimal(0)


def quantum(precision: int) -> Decimal:
    return Decimal(1).scaleb(-precision)


def parse_amount(value: object, precision: int, field: str = "amount", *, allow_zero: bool = False,
                 signed: bool = False) -> Decimal:
    """A client's amount as an exact Decimal at ``precision`` (refused, never rounded, when it has more places).

    Accepts a decimal string or an integer (a float only through its shortest repr, as elsewhere).
    Positive unless ``allow_zero`` (then non-negative) or ``signed`` (any non-zero value).
    """
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{field} must be a decimal string such as '10' or '2.5'", field)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(f"{field} must be a finite number", field)
        value = repr(value)
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str) and 0 < len(value.strip()) <= 64:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(f"{field} must be a decimal number, got {value[:40]!r}", field) from None
    else:
        raise ValidationError(f"{field} must be a decimal string such as '10' or '2.5'", field)
    if not number.is_finite():
        raise ValidationError(f"{field} must be a finite number", field)
    if abs(number) >= LIMIT:
        raise ValidationError(f"{field} must be below 10^{MAX_INTEGER_DIGITS}", field)
    if number.as_tuple().exponent < -precision and number != number.quantize(quantum(precision), context=WIDE):
        raise ValidationError(f"{field} has more than {precision} decimal place(s), the entitlement's precision",
                              field)
    if signed:
        if number == 0:
            raise ValidationError(f"{field} must not be zero", field)
    elif number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(f"{field} must be {'zero or more' if allow_zero else 'greater than zero'}", field)
    return at_precision(number, precision)


def at_precision(amount: Decimal, precision: int) -> Decimal:
    """``amount`` (already representable) written with exactly ``precision`` places."""
    return amount.quantize(quantum(precision), context=EXACT)


def truncate(amount: Decimal, precision: int) -> Decimal:
    """THE rounding rule for computed credit amounts: toward zero, to ``precision`` places."""
    return amount.quantize(quantum(precision), rounding=ROUND_DOWN, context=WIDE)


def ceil_to(amount: Decimal, precision: int) -> Decimal:
    """``amount`` rounded up to ``precision`` (only for display: a low-balance threshold in whole units)."""
    return amount.quantize(quantum(precision), rounding=ROUND_CEILING, context=WIDE)


def share(amount: Decimal, percent: int, precision: int) -> Decimal:
    """``percent`` % of ``amount``, truncated to ``precision`` (the rolled-over part of a grant)."""
    return truncate(WIDE.divide(WIDE.multiply(amount, Decimal(percent)), Decimal(100)), precision)


def text(amount: Decimal, precision: int) -> str:
    """The wire form: plain text with exactly ``precision`` places (``'100.00'`` at precision 2)."""
    return format(at_precision(amount, precision), "f")
