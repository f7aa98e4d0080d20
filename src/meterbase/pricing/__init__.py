"""Pricing core (pure: no I/O): money and rounding, price models, priced lines and proration.

Amounts are exact ``Decimal`` until a line is priced, then rounded once to the currency's minor
unit with ``ROUND_HALF_UP`` (see ``money``). Typical use::

    price = price_from_dict({"model": "per_unit", "unit_price": "0.02", "free_threshold": "1000"})
    price_line(2500, price, "USD").amount  # Decimal('30.00')
"""

from .lines import Line, price_line, proration
from .models import Breakdown, Flat, Package, PerUnit, PriceModel, TierCharge
from .money import CURRENCIES, Money, currency_exponent, from_minor, round_amount, to_minor
from .parse import MODELS, price_from_dict
from .quantity import UnbillableQuantity, billable_quantity
from .tiers import Graduated, PriceTier, Volume

__all__ = [
    "CURRENCIES", "MODELS", "Breakdown", "Flat", "Graduated", "Line", "Money", "Package", "PerUnit", "PriceModel",
    "PriceTier", "TierCharge", "UnbillableQuantity", "Volume", "billable_quantity",
    "currency_exponent", "from_minor", "price_from_dict", "price_line", "proration", "round_amount", "to_minor",
]
