"""Soft-limit overage as invoice lines, from the prices ``allow()`` recorded (pure: no I/O).

Every ``allow()`` adds its ``overage`` (billable units past a soft limit, after any covering balance) and its
``overage_price`` (their price at the customer's tier position when the call was made) to the period's counter.
:func:`lines_from_counters` turns those sums into one :class:`OverageLine` per entitlement and period, priced
with exactly the numbers the calls answered: the line's exact amount is the sum of the calls' exact overage
prices, rounded once to the currency (``pricing.round_amount``). A counter written before prices were recorded
(revision 0201) is priced from the credit's curve over its overage instead. Unpriced credits give a line of
None (the units are still listed). ``meterbase.policy.billing.overage_lines`` reads the counters for you.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from ..pricing import Line, round_amount
from ..timeutil import from_us, iso
from ..units import exact
from .document import Credit, Policy
from .pricing import price_of

ZERO = Decimal(0)


@dataclass(frozen=True)
class OverageLine:
    """Billable soft-limit overage of one entitlement in one period, priced as its calls were."""

    customer_id: str
    entitlement: str
    credit: str
    period_start: datetime | None  # None for a limit that never resets
    period_end: datetime | None
    used: Decimal
    overage: Decimal
    line: Line | None  # None when the credit has no price
    price: Decimal | None = None  # list price of every billable unit this period (with covered ones)
    cost: Decimal | None = None  # your cost this period (overhead)

    def to_dict(self) -> dict:
        from .results import text

        return {
            "customer_id": self.customer_id, "entitlement": self.entitlement, "credit": self.credit,
            "period_start": None if self.period_start is None else iso(self.period_start),
            "period_end": None if self.period_end is None else iso(self.period_end),
            "used": text(self.used), "overage": text(self.overage), "price": text(self.price), "cost": text(self.cost),
            "line": None if self.line is None else self.line.to_dict(),
        }


def priced_line(credit: Credit, quantity: Decimal, amount: Decimal, currency: str) -> Line:
    """An invoice line for ``quantity`` units whose exact price is ``amount``, rounded once in ``currency``."""
    return Line(
        model=f"credit_{credit.pricing_model}", quantity=quantity, free_units=ZERO, billable_units=quantity,
        unit_price=credit.price if credit.pricing_model == "flat" else None, tiers=(), packages=None,
        subtotal=exact(amount), exact_amount=exact(amount), amount=round_amount(amount, currency), currency=currency.upper(),
    )


def _legacy_price(credit: Credit, row) -> Decimal | None:
    """Overage of a counter from before 0201: the last ``overage`` billable units of the period, on the curve."""
    start = ZERO if row.limit_value is None else max(ZERO, row.used - row.limit_value - row.overage)
    return price_of(credit, row.overage, start)


def lines_from_counters(rows: Iterable, policy: Policy, customer_id: str, currency: str = "USD") -> list[OverageLine]:
    """One line per counter (``storage.policy_repo.CounterRow``) with billable overage, in the given order."""
    out: list[OverageLine] = []
    for row in rows:
        if row.overage <= 0 and not row.overage_price:
            continue
        credit = policy.credits.get(row.credit)
        amount = None if credit is None else (row.overage_price if row.price is not None else _legacy_price(credit, row))
        running = row.period_end is None
        out.append(OverageLine(
            customer_id, row.entitlement, row.credit,
            None if running else from_us(row.period_start), None if running else from_us(row.period_end),
            row.used, row.overage,
            None if amount is None else priced_line(credit, row.overage, amount, currency),
            price=row.price, cost=row.cost,
        ))
    return out
