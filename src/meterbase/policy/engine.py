"""The pure decision engine: check / allow / remaining / value / limit over explicit state.

Every function takes the customer's :class:`Entitlement` (``None`` when their plan does not include it, which
denies access) and ``used``, the usage already recorded for that entitlement in the current period, in the
credit's units. Nothing is stored: :func:`allow` returns a :class:`Decision` saying what to add to ``used``
(``consumed``), what the call is worth and costs, the overage to bill and the events to fire; the service
applies it atomically. :func:`check` is the same decision without side effects (a preview).

Limitr's rules: a ``hard`` limit refuses an amount that does not fit and consumes nothing; a ``soft`` limit
always consumes and reports the part newly past the limit as overage; an ``observe`` limit never refuses and
bills nothing. A negative amount is a refund: it always fits, takes usage down (below zero unless the limit has
a ``minimum``) and is priced at the position it undoes. Spend caps (:mod:`.caps`) are checked before the limit.

Prices (:mod:`.pricing`) follow the customer's position: ``price_diff`` prices the billable units the call adds
past the limit from where the period already is; ``overage_price`` is the part of that to bill (soft limits),
after whatever a *covering balance* (money a grant ledger holds for the customer, passed as ``covering``) paid
for; ``overhead_cost`` is the call's cost (units × the credit's ``overhead_cost``). A refused call reports what
it would have been worth. Arithmetic is exact (an amount too large to price exactly is refused, never rounded).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Literal

from ..errors import ValidationError
from ..exact import EXACT, WIDE
from ..units import Amount, convert, exact
from . import caps as cap_rules
from .caps import CapResult, CapState
from .document import Entitlement, Limit
from .events import CapLimit, CapThresholdCrossed, LimitReached, MeterChanged, MeterOverage, PolicyEvent
from .pricing import price_of, quantity_for

Used = int | Decimal
"""Stored usage for the current period, already in the credit's units."""
Reason = Literal["ok", "not_in_plan", "limit_exceeded", "cap_exceeded"]
ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Decision:
    """Outcome of check/allow. ``consumed`` is what allow adds to ``used`` (0 for check or a refusal).

    ``overage`` is the change in billable units past a soft limit not covered by a balance (negative for a
    refund); ``covered`` / ``covered_price`` what a covering balance paid for. ``caps`` are the plan's caps
    that apply, with the call's ``charge`` against each; ``cap`` names the cap that refused the call.
    """

    allowed: bool
    reason: Reason
    used: Decimal
    amount: Decimal | None = None
    consumed: Decimal = ZERO
    limit: Decimal | None = None
    overage: Decimal = ZERO
    events: tuple[PolicyEvent, ...] = ()
    mode: str | None = None
    price_diff: Decimal | None = None
    overage_price: Decimal | None = None
    overhead_cost: Decimal | None = None
    covered: Decimal = ZERO
    covered_price: Decimal = ZERO
    caps: tuple[CapResult, ...] = ()
    cap: str | None = None
    over_limit: bool = False

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def used_after(self) -> Decimal:
        with localcontext(WIDE):
            return self.used + self.consumed

    @property
    def remaining(self) -> Decimal | None:
        if self.limit is None:
            return None
        with localcontext(WIDE):
            return max(ZERO, self.limit - self.used_after)


def _units(entitlement: Entitlement) -> str | None:
    return entitlement.limit.credit.stof_units if entitlement.limit else None


def _used(value: Used) -> Decimal:
    """Stored usage: a plain number already in credit units (negative after refunds without a minimum)."""
    return convert(value, None, "used")


def overage_between(used: Decimal, after: Decimal, limit: Decimal) -> Decimal:
    """Change in usage past ``limit`` when usage moves from ``used`` to ``after`` (negative when it falls)."""
    return max(ZERO, after - limit) - max(ZERO, used - limit)


def coverable(limit: Limit, covering: Decimal | None, billable: Decimal) -> Decimal | None:
    """Units a covering balance of ``covering`` money pays for from billable position ``billable``.

    None when nothing can be covered (no balance, ``grants_apply: false``, an unpriced credit); a balance that
    buys every further unit (a stairstep top band) covers any amount.
    """
    if covering is None or covering <= 0 or not limit.grants_apply or not limit.credit.priced:
        return None
    units = quantity_for(limit.credit, covering, billable)
    return Decimal("Infinity") if units is None else units


def _decide(
    entitlement: Entitlement | None, used: Used, amount: Amount | None, *, commit: bool, customer_id: str | None,
    plan: str | None, caps: tuple[CapState, ...], covering: Decimal | None, billed: Decimal | None,
) -> Decision:
    current = _used(used)
    if entitlement is None:
        return Decision(False, "not_in_plan", current)
    qty = None if amount is None else convert(amount, _units(entitlement), "amount")
    lim = entitlement.limit
    if lim is None:
        return Decision(True, "ok", current, qty, consumed=qty if (commit and qty is not None) else ZERO)
    if qty is None:  # access check: is the entitlement in the plan and (hard) is anything left
        fits = lim.mode != "hard" or current < lim.value
        return Decision(fits, "ok" if fits else "limit_exceeded", current, None, limit=lim.value, mode=lim.mode,
                        over_limit=current > lim.value)
    try:
        with localcontext(EXACT):
            return _metered(entitlement, lim, current, qty, commit=commit, customer_id=customer_id, plan=plan,
                            caps=caps, covering=covering, billed=billed)
    except (Inexact, InvalidOperation, Overflow):
        raise ValidationError("amount is too large to meter and price exactly", "amount") from None


def _metered(
    ent: Entitlement, lim: Limit, current: Decimal, qty: Decimal, *, commit: bool, customer_id: str | None,
    plan: str | None, caps: tuple[CapState, ...], covering: Decimal | None, billed: Decimal | None,
) -> Decision:
    credit = lim.credit
    new = current + qty
    if lim.minimum is not None and new < lim.minimum:
        new = lim.minimum
    change = new - current
    position = current - lim.value  # signed: negative while inside the included amount
    billable = max(ZERO, position)
    price = price_of(credit, max(ZERO, new - lim.value) - billable, billable)
    cost = change * credit.overhead_cost
    priced_zero = None if price is None else ZERO
    base = Decision(False, "ok", current, qty, limit=lim.value, mode=lim.mode, price_diff=price,
                    overage_price=priced_zero, overhead_cost=cost, caps=cap_rules.preview(caps),
                    over_limit=current > lim.value)
    call = dict(customer_id=customer_id, entitlement=ent.name, credit=credit, limit=lim.value, plan=plan,
                old=current, price_diff=price, overhead_cost=cost)
    increasing = change > 0

    if increasing:  # caps first (Limitr): a refused call moves nothing
        denied = cap_rules.denying(caps, credit, change, new - max(current, lim.value), position)
        if denied is not None:
            charged = cap_rules.charge(denied.cap, credit, change, new - max(current, lim.value), position)
            events = (CapLimit(used=current, amount=qty, cap=denied.cap.name, cap_value=denied.cap.value,
                               cap_spent=denied.spent, cap_charge=charged, **call),) if commit else ()
            return replace(base, reason="cap_exceeded", cap=denied.cap.name, events=events)

    over = overage_between(current, new, lim.value)
    covered, overage, cap_overage = ZERO, ZERO, ZERO
    if lim.mode == "hard" and increasing and new > lim.value:
        need = new - max(current, lim.value)
        avail = coverable(lim, covering, billable)
        if avail is None or avail < need:
            events = (LimitReached(used=current, amount=qty, **call),) if commit else ()
            return replace(base, reason="limit_exceeded", events=events)
        covered = cap_overage = need  # a balance (grants) extends a hard limit
    elif lim.mode == "soft":
        cap_overage = max(ZERO, over) if increasing else ZERO
        if over > 0:
            avail = coverable(lim, covering, billable)
            covered = ZERO if avail is None else min(over, avail)
        overage = over - covered
        if billed is not None and overage < -max(ZERO, billed):  # a refund takes back at most what was billed
            overage = -max(ZERO, billed)
    covered_price = ZERO if price is None or not covered else price_of(credit, covered, billable)
    if price is None or lim.mode != "soft":
        overage_price = priced_zero
    elif overage == over:
        overage_price = price
    else:  # uncovered units are the tail of the call; a clamped refund is priced where usage stood
        overage_price = price_of(credit, overage, billable + covered if overage > 0 else billable)

    results = cap_rules.apply(caps, credit, change, cap_overage, position)
    decision = replace(
        base, allowed=True, consumed=change if commit else ZERO, overage=overage,
        overage_price=overage_price, covered=covered, covered_price=covered_price, caps=results,
        over_limit=new > lim.value,
    )
    if not commit:
        return decision
    events: list[PolicyEvent] = []
    if change != 0 or cost != 0:
        meter = dict(used=new, amount=change, **call)
        if lim.mode == "soft" and overage > 0:
            events.append(MeterOverage(overage=overage, overage_price=overage_price, covered=covered, **meter))
        else:
            events.append(MeterChanged(**meter))
    for r in results:
        if r.crossed:
            events.append(CapThresholdCrossed(customer_id, ent.name, credit, new, lim.value, cap=r.name,
                                              cap_value=r.value, cap_spent=r.spent_after, observe_only=r.observe_only))
    return replace(decision, events=tuple(events))


def check(
    entitlement: Entitlement | None, used: Used = ZERO, amount: Amount | None = None, *,
    caps: tuple[CapState, ...] = (), covering: Decimal | None = None, billed: Decimal | None = None,
) -> Decision:
    """Would :func:`allow` accept ``amount``, and what would it be worth? With ``amount=None``: access, and
    (hard limit) is anything left. Nothing is consumed and no events are produced."""
    return _decide(entitlement, used, amount, commit=False, customer_id=None, plan=None, caps=caps, covering=covering,
                   billed=billed)


def allow(
    entitlement: Entitlement | None, used: Used, amount: Amount, *, customer_id: str | None = None,
    plan: str | None = None, caps: tuple[CapState, ...] = (), covering: Decimal | None = None,
    billed: Decimal | None = None,
) -> Decision:
    """Decide and meter ``amount``: the decision's ``consumed`` must be added to the stored usage, its
    ``overage`` to the billed overage, each cap's ``charge`` to its spending, ``covered_price`` drawn from the
    covering balance. ``billed`` (the period's billed overage so far) bounds what a refund takes back."""
    return _decide(entitlement, used, amount, commit=True, customer_id=customer_id, plan=plan, caps=caps,
                   covering=covering, billed=billed)


def limit(entitlement: Entitlement | None) -> Decimal | None:
    """The limit in credit units, or None (not in plan, a boolean entitlement, or an ``observe`` limit)."""
    lim = entitlement.limit if entitlement else None
    return None if lim is None or lim.mode == "observe" else lim.value


def remaining(entitlement: Entitlement | None, used: Used) -> Decimal | None:
    """``max(0, limit - used)``, or None when there is no limit (meterbase floors at 0; Limitr goes negative)."""
    lim = limit(entitlement)
    if lim is None:
        return None
    with localcontext(WIDE):
        return max(ZERO, lim - _used(used))


def remaining_percent(entitlement: Entitlement | None, used: Used) -> Decimal | None:
    """Limitr's ``remaining(percent)``: ``max(0, limit - used) / limit × 100`` (0 for a zero limit), to 28
    significant digits (Limitr rounds reads to 1e-9)."""
    lim = limit(entitlement)
    if lim is None:
        return None
    return exact(remaining(entitlement, used) * HUNDRED / lim) if lim else ZERO


def value(entitlement: Entitlement | None, used: Used, percent: bool = False) -> Decimal | None:
    """Usage this period, or (Limitr's ``value(percent)``, ``100 - remaining percent``) ``used / limit × 100``
    capped at 100, and 100 for a zero limit. None when not in the plan (and for a percent without a limit)."""
    if entitlement is None:
        return None
    current = _used(used)
    if not percent:
        return current
    lim = limit(entitlement)
    if lim is None:
        return None
    return exact(min(HUNDRED, current * HUNDRED / lim)) if lim else HUNDRED
