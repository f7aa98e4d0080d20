"""Spend caps (pure): what a call adds to each money ceiling, and whether it fits (Limitr's ``Cap`` semantics).

A cap's *charge* for a call is, in the policy's money:

* a plain cap: the price of the call's units from its signed position (``used - limit``), so units inside the
  plan's included amount count at the first tier's rate (free for ``stairstep``), units past it at their tier;
* ``overage_only``: the price of the call's overage units only, from the billable position;
* ``overhead_cost``: your cost instead of the price (units × the credit's ``overhead_cost``).

A cap does not apply to a call on an unpriced credit (unless it counts ``overhead_cost``). Before a call that
adds units, every enforcing cap must have room: ``spent + charge <= value`` (``observe_only`` caps never refuse).
Once the call is decided, every applicable cap moves by its charge, except that a negative charge for fewer
units (a refund) only moves ``follow_decrements`` caps; a negative charge for *more* units (a volume band
reprice) is real and always applies. A cap whose ``spent`` reaches ``value`` on a call reports ``crossed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from ..exact import WIDE

from .document import Credit, SpendCap
from .pricing import price_of

ZERO = Decimal(0)


@dataclass(frozen=True)
class CapState:
    """A cap and what has been charged against it this cap period."""

    cap: SpendCap
    spent: Decimal = ZERO


@dataclass(frozen=True)
class CapResult:
    """One cap's part in a decision: ``charge`` is what the call adds (0 when it did not move the cap)."""

    name: str
    value: Decimal
    spent: Decimal
    charge: Decimal
    observe_only: bool
    crossed: bool = False

    @property
    def spent_after(self) -> Decimal:
        with localcontext(WIDE):
            return self.spent + self.charge

    @property
    def remaining(self) -> Decimal:
        with localcontext(WIDE):
            return max(ZERO, self.value - self.spent_after)

    def to_dict(self, text) -> dict:
        return {
            "name": self.name, "value": text(self.value), "spent": text(self.spent), "charge": text(self.charge),
            "spent_after": text(self.spent_after), "remaining": text(self.remaining),
            "observe_only": self.observe_only, "crossed": self.crossed,
        }


def charge(cap: SpendCap, credit: Credit, units: Decimal, overage: Decimal, position: Decimal) -> Decimal | None:
    """What ``units`` (of which ``overage`` past the limit) from signed ``position`` add to ``cap``; None: n/a."""
    if cap.overhead_cost:
        return (overage if cap.overage_only else units) * credit.overhead_cost
    if cap.overage_only:
        return price_of(credit, overage, max(ZERO, position))
    return price_of(credit, units, position)


def denying(caps: tuple[CapState, ...], credit: Credit, units: Decimal, overage: Decimal, position: Decimal) -> CapState | None:
    """The first enforcing cap without room for a call adding ``units`` (``overage`` of them past the limit)."""
    for state in caps:
        if state.cap.observe_only:
            continue
        amount = charge(state.cap, credit, units, overage, position)
        if amount is not None and state.spent + amount > state.cap.value:  # callers run in the EXACT context
            return state
    return None


def apply(caps: tuple[CapState, ...], credit: Credit, units: Decimal, overage: Decimal, position: Decimal) -> tuple[CapResult, ...]:
    """Each applicable cap's result for a decided call (see the module docstring for which caps move)."""
    out = []
    for state in caps:
        cap = state.cap
        amount = charge(cap, credit, units, overage, position)
        if amount is None:
            continue
        moved = overage if cap.overage_only else units
        if amount < 0 and moved <= 0 and not cap.follow_decrements:
            amount = ZERO
        with localcontext(WIDE):
            after = state.spent + amount
        crossed = state.spent < cap.value <= after
        out.append(CapResult(cap.name, cap.value, state.spent, amount, cap.observe_only, crossed))
    return tuple(out)


def preview(caps: tuple[CapState, ...]) -> tuple[CapResult, ...]:
    """The caps' standing, for a call that moves none of them (refused, or nothing metered)."""
    return tuple(CapResult(s.cap.name, s.cap.value, s.spent, ZERO, s.cap.observe_only) for s in caps)
