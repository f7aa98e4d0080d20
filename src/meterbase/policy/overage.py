"""Pricing soft-limit overage with the credit's own pricing model (pure: no I/O).

A credit's ``tiers`` are positions in the period's usage (``up_to: 3600`` is "the first GPU-hour"), so
overage units are priced where they sit: the ``overage`` units above ``used - overage`` (the limit)
fall in the tiers that cover that stretch. :func:`credit_price_model` turns a credit into a
``meterbase.pricing`` model shifted by that offset (a tiered credit becomes ``Graduated``, a flat
credit ``PerUnit`` at its ``price``); :func:`overage_line` prices the overage as an invoice
:class:`~meterbase.pricing.Line`, rounded once to the currency. A tiered credit whose last tier is
bounded keeps charging the last tier's price above it.
"""

from __future__ import annotations

from decimal import Decimal

from ..pricing import Graduated, Line, PerUnit, PriceModel, Tier, price_line
from .document import Credit

ZERO = Decimal(0)


def credit_price_model(credit: Credit, offset: Decimal | int = 0) -> PriceModel | None:
    """The credit's price for units counted from position ``offset`` of the period (None: unpriced)."""
    offset = Decimal(offset)
    if credit.pricing_model == "tiered" and credit.tiers:
        tiers: list[Tier] = []
        for tier in credit.tiers:
            if tier.up_to is not None and tier.up_to <= offset:
                continue
            tiers.append(Tier(up_to=None if tier.up_to is None else tier.up_to - offset, unit_price=tier.price))
        if not tiers or tiers[-1].up_to is not None:
            tiers.append(Tier(up_to=None, unit_price=credit.tiers[-1].price))
        return Graduated(tiers=tuple(tiers))
    if credit.price is None:
        return None
    return PerUnit(unit_price=credit.price)


def overage_line(credit: Credit, used: Decimal, overage: Decimal, currency: str = "USD") -> Line | None:
    """The invoice line for ``overage`` units, the last ``overage`` of a period's ``used``.

    None when the credit has no price. ``line.quantity`` is the overage in the credit's units.
    """
    model = credit_price_model(credit, max(ZERO, used - overage))
    if model is None:
        return None
    return price_line(overage, model, currency)
