"""Pricing a credit's units with Limitr's curves (pure, exact ``Decimal``, nothing rounded).

Tiers are defined over *billable* units, the units past whatever a plan includes. A *position* is where a
quantity starts on that curve: 0 is the first billable unit; negative positions are still inside the included
amount, priced linearly at the first tier's rate (``tiered``/``volume``) or free (``stairstep``), so a spend
cap counting raw consumption still sees them. With ``n`` billable units in a period:

* ``flat``: ``n × price``.
* ``tiered``: each band's units at that band's rate (like tax brackets).
* ``volume``: all ``n`` units at the rate of the band ``n`` falls in (bands are ``(previous up_to, up_to]``),
  so crossing into a cheaper band can make a call's marginal price negative.
* ``stairstep``: the flat fee of the band ``n`` falls in (0 for ``n <= 0``).

A bounded last band (Limitr requires ``up_to: null`` there) keeps its price above its bound (meterbase).
:func:`price_of` is the marginal price of ``quantity`` units from ``offset``: ``total(offset + q) -
total(offset)`` (refunds are negative quantities priced at the same position), so the prices of a period's
calls always add up to the total price of where the period ended. :func:`quantity_for` inverts it: how many
units a money balance buys from a position (the hook a grant ledger uses to cover usage before it becomes
overage). Every function returns None for an unpriced credit.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

from ..exact import EXACT, WIDE
from ..units import exact
from .document import Credit, CreditTier

ZERO = Decimal(0)
UNIT_QUANTUM = Decimal("1e-30")
UNBOUNDED = None
"""What :func:`quantity_for` returns as "every further unit" (a stairstep top band is paid for)."""


def _first_rate(credit: Credit) -> Decimal:
    return credit.tiers[0].price


def band(credit: Credit, n: Decimal) -> CreditTier:
    """The tier holding billable quantity ``n`` (``n > 0``); the last tier past every bound."""
    for tier in credit.tiers:
        if tier.up_to is None or n <= tier.up_to:
            return tier
    return credit.tiers[-1]


def total_price(credit: Credit, n: Decimal) -> Decimal | None:
    """The price of a cumulative billable quantity ``n`` (from position 0 to ``n``); None when unpriced."""
    if not credit.priced:
        return None
    with localcontext(EXACT):
        if credit.pricing_model == "flat":
            return n * credit.price
        if n <= 0:
            return ZERO if credit.pricing_model == "stairstep" else n * _first_rate(credit)
        if credit.pricing_model == "tiered":
            return _graduated(credit, ZERO, n)
        tier = band(credit, n)
        return n * tier.price if credit.pricing_model == "volume" else tier.price


def _graduated(credit: Credit, start: Decimal, end: Decimal) -> Decimal:
    """Tiered price of the billable stretch ``(start, end]`` with ``0 <= start <= end`` (exact band slices)."""
    total, lower = ZERO, ZERO
    for i, tier in enumerate(credit.tiers):
        last = i == len(credit.tiers) - 1
        top = None if last else tier.up_to  # a bounded last band keeps its price above its bound
        if top is None or start < top:
            hi = end if top is None else min(end, top)
            lo = max(start, lower)
            if hi > lo:
                total += (hi - lo) * tier.price
        if top is None or end <= top:
            break
        lower = top
    return total


def price_of(credit: Credit, quantity: Decimal, offset: Decimal = ZERO) -> Decimal | None:
    """The price of ``quantity`` units starting at billable position ``offset`` (negative: a refund there)."""
    if not credit.priced:
        return None
    with localcontext(EXACT):
        if credit.pricing_model == "flat":
            return quantity * credit.price
        if credit.pricing_model == "tiered":
            if quantity < 0:
                return -price_of(credit, -quantity, offset + quantity)
            end = offset + quantity
            total = ZERO
            if offset < 0:  # included units at the first rate
                total += (min(end, ZERO) - offset) * _first_rate(credit)
            if end > 0:
                total += _graduated(credit, max(offset, ZERO), end)
            return total
        return total_price(credit, offset + quantity) - total_price(credit, offset)


def quantity_for(credit: Credit, money: Decimal, offset: Decimal = ZERO) -> Decimal | None:
    """How many units ``money`` buys from billable position ``offset`` (inverse of :func:`price_of`).

    Walks forward band by band and stops where the money runs out; a band whose entry cost cannot be afforded
    is not entered. :data:`UNBOUNDED` (None) when the money reaches a band with no per-unit price and no upper
    bound (every further unit is already paid for); also None for an unpriced credit or a free flat price, so
    callers check :attr:`Credit.priced` first. Negative money converts linearly at the first rate. Units are
    rounded toward zero to 30 decimal places (the precision amounts are metered in), so the money always buys at
    most what it pays for; that is the only rounding here.
    """
    if not credit.priced:
        return None
    units = _quantity_for(credit, money, offset)
    if units is None:
        return None
    with localcontext(WIDE):
        return exact(units.quantize(UNIT_QUANTUM, rounding=ROUND_DOWN))


def _quantity_for(credit: Credit, money: Decimal, offset: Decimal) -> Decimal | None:
    with localcontext(WIDE):
        if credit.pricing_model == "flat":
            return money / credit.price if credit.price > 0 else UNBOUNDED
        if money == 0:
            return ZERO
        model = credit.pricing_model
        if money < 0:
            rate = _first_rate(credit)
            return money / rate if model != "stairstep" and rate > 0 else None
        cur, spent = offset, ZERO
        while True:
            nxt = ZERO if cur < 0 else next((t.up_to for t in credit.tiers[:-1] if t.up_to is not None and t.up_to > cur), None)
            slope, entry = ZERO, ZERO
            if cur < 0:
                slope = ZERO if model == "stairstep" else _first_rate(credit)
            else:
                tier = band(credit, nxt if nxt is not None else cur + 1)
                if model == "tiered":
                    slope = tier.price
                elif model == "volume":
                    slope, entry = tier.price, cur * tier.price - total_price(credit, cur)
                else:
                    entry = tier.price - total_price(credit, cur)
            if spent + entry > money:
                return cur - offset  # cannot afford to enter this band
            spent += entry
            if slope > 0:
                reach = cur + (money - spent) / slope
                if nxt is None or reach <= nxt:
                    return reach - offset
                spent += (nxt - cur) * slope
            elif nxt is None:
                return UNBOUNDED
            cur = nxt
