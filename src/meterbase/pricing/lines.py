"""Invoice lines: a quantity priced under a model in a currency, and fixed-fee proration.

This module owns the step from exact amounts to chargeable ones. ``price_line`` takes the exact
``Breakdown`` of a price model and rounds its ``exact_amount`` exactly once with the money rule
(``ROUND_HALF_UP`` to the currency's minor unit); tier amounts inside the line stay exact, so the
line amount equals the rounded sum of its exact tier amounts, never a sum of rounded pieces.
``proration`` charges the share of a fixed fee for ``[change_at, period_end)``: the fee times the
elapsed seconds of that remainder (to the microsecond) over the seconds of the whole period,
computed exactly and rounded once with the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..errors import ValidationError
from .decimals import WIDE
from .models import Breakdown, PriceModel, to_dict
from .money import Money, currency_exponent, round_amount, to_minor

_MICROSECOND = timedelta(microseconds=1)
_TRUNCATE = WIDE.copy()
_TRUNCATE.rounding = ROUND_DOWN


@dataclass(frozen=True, slots=True)
class Line(Breakdown):
    """A priced line: the exact breakdown plus ``amount`` (rounded once) in ``currency``."""

    amount: Decimal
    currency: str

    @property
    def amount_minor(self) -> int:
        return to_minor(self.amount, self.currency)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def price_line(quantity: Decimal | int | str, price: PriceModel, currency: str) -> Line:
    """Price ``quantity`` under ``price`` and round the exact amount once in ``currency``."""
    currency_exponent(currency)  # unknown currency fails before any work
    if not isinstance(price, PriceModel):
        raise ValidationError("price must be a PriceModel (see price_from_dict)", "price")
    exact = price.breakdown(quantity)
    parts = {f.name: getattr(exact, f.name) for f in fields(Breakdown)}
    return Line(**parts, amount=round_amount(exact.exact_amount, currency), currency=currency.upper())


def _aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} must be a timezone-aware datetime (UTC)", field)
    return value.astimezone(timezone.utc)


def proration(amount: Money, period_start: datetime, period_end: datetime, change_at: datetime) -> Money:
    """Share of the fixed fee ``amount`` for ``[change_at, period_end)``, by elapsed time, rounded once."""
    if not isinstance(amount, Money):
        raise ValidationError("amount must be Money (a fixed fee with its currency)", "amount")
    start, end, at = (_aware(v, n) for v, n in
                      ((period_start, "period_start"), (period_end, "period_end"), (change_at, "change_at")))
    if end <= start:
        raise ValidationError("period_end must be after period_start", "period_end")
    if not start <= at <= end:
        raise ValidationError("change_at must lie within the period", "change_at")
    remaining, total = (end - at) // _MICROSECOND, (end - start) // _MICROSECOND
    # The quotient may not terminate, so it is truncated at 100 significant digits. Truncation
    # cannot change a ROUND_HALF_UP result: the truncated value and the half-way point are both
    # multiples of the last kept digit, so the truncated value reaches the half-way point only
    # when the exact one does. The result is therefore the exact share, rounded once.
    share = _TRUNCATE.divide(_TRUNCATE.multiply(amount.amount, Decimal(remaining)), Decimal(total))
    return Money.of(share, amount.currency)
