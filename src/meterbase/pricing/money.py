"""Currencies, the single rounding rule, and the ``Money`` value.

This module owns how a computed price becomes a chargeable amount. THE ROUNDING RULE: every line
amount is computed exactly in ``Decimal`` and rounded exactly once, at the end, to the currency's
ISO 4217 minor unit with ``ROUND_HALF_UP`` (halves go away from zero: 0.005 USD -> 0.01 USD,
0.5 JPY -> 1 JPY, 0.0005 KWD -> 0.001 KWD). Nothing upstream of :func:`round_amount` rounds.
``Money`` always holds an amount already representable in minor units, so converting it to and
from an integer count of minor units (cents, yen, fils) is lossless.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..errors import ValidationError
from .decimals import EXACT, WIDE

#: ISO 4217 minor-unit exponents (digits after the decimal point) of the supported currencies.
CURRENCIES: dict[str, int] = {
    **dict.fromkeys(
        ("USD", "EUR", "GBP", "INR", "CAD", "AUD", "NZD", "CHF", "CNY", "HKD", "SGD", "SEK", "NOK",
         "DKK", "PLN", "CZK", "MXN", "BRL", "ZAR", "AED", "SAR", "ILS", "TRY", "THB", "PHP", "IDR"),
        2,
    ),
    **dict.fromkeys(("JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF"), 0),
    **dict.fromkeys(("KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD"), 3),
}


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (case-insensitive ISO 4217 code)."""
    code = currency.upper() if isinstance(currency, str) else None
    if code not in CURRENCIES:
        raise ValidationError(
            f"unknown currency {currency!r}; supported: {', '.join(sorted(CURRENCIES))}", "currency"
        )
    return CURRENCIES[code]


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """The one rounding rule: exact ``amount`` -> currency minor unit, ``ROUND_HALF_UP``."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP, context=WIDE)


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact integer minor units of an already-rounded amount (``Decimal('30.00')`` USD -> 3000)."""
    scaled = amount.scaleb(currency_exponent(currency), context=EXACT)
    if scaled != scaled.to_integral_value():
        raise ValidationError(
            f"{amount} has more decimal places than {currency.upper()} allows; round it first", "amount"
        )
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    """Integer minor units -> amount at the currency's exponent (3000 USD -> ``Decimal('30.00')``)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise ValidationError("minor units must be an integer", "amount")
    return Decimal(units).scaleb(-currency_exponent(currency), context=EXACT)


@dataclass(frozen=True, slots=True)
class Money:
    """A settled amount: a ``Decimal`` already at ``currency``'s minor unit, and an ISO 4217 code.

    Construction never rounds (it rejects extra places); use :meth:`of` to round an exact amount.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValidationError("amount must be a finite Decimal", "amount")
        currency = self.currency.upper() if isinstance(self.currency, str) else self.currency
        units = to_minor(self.amount, currency)  # validates the currency and the places
        object.__setattr__(self, "currency", currency)
        object.__setattr__(self, "amount", from_minor(units, currency))

    @classmethod
    def of(cls, exact: Decimal, currency: str) -> Money:
        """Round an exact amount once (see module docstring) into ``Money``."""
        return cls(round_amount(exact, currency), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        return cls(from_minor(units, currency), currency)

    @property
    def minor(self) -> int:
        """The amount as an integer count of minor units."""
        return to_minor(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
