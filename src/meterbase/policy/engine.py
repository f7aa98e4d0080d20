"""The pure decision engine: check / allow / remaining / value / limit over explicit state.

Every function takes the customer's :class:`Entitlement` (``None`` when their plan does not include it, which
denies access) and ``used``, the usage already recorded for that entitlement in the current period, in the
credit's units. Nothing is stored: :func:`allow` returns a :class:`Decision` saying what to add to ``used``
(``consumed``), the overage to bill and the events to fire, and the storage layer applies it atomically.
A hard limit refuses an amount that does not fit and consumes nothing; a soft limit always consumes and
reports the part newly past the limit as overage. :func:`check` is the same decision without side effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ..errors import ValidationError
from .document import Entitlement
from .events import LimitReached, MeterOverage, PolicyEvent
from .units import Amount, convert, exact

Used = int | Decimal
"""Stored usage for the current period, already in the credit's units."""
Reason = Literal["ok", "not_in_plan", "limit_exceeded"]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Decision:
    """Outcome of check/allow. ``consumed`` is what allow adds to ``used`` (always 0 for check or refusal)."""

    allowed: bool
    reason: Reason
    used: Decimal
    amount: Decimal | None = None
    consumed: Decimal = ZERO
    limit: Decimal | None = None
    overage: Decimal = ZERO
    events: tuple[PolicyEvent, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def used_after(self) -> Decimal:
        return self.used + self.consumed

    @property
    def remaining(self) -> Decimal | None:
        return None if self.limit is None else max(ZERO, self.limit - self.used_after)


def _units(entitlement: Entitlement) -> str | None:
    return entitlement.limit.credit.stof_units if entitlement.limit else None


def _non_negative(result: Decimal, value: object, field: str) -> Decimal:
    if result < 0:
        raise ValidationError(f"{field} must not be negative, got {value!r}", field)
    return result


def _amount(entitlement: Entitlement, value: Amount) -> Decimal:
    """A requested amount (number or unit string) in the entitlement's credit units."""
    return _non_negative(convert(value, _units(entitlement), "amount"), value, "amount")


def _used(value: Used) -> Decimal:
    """Stored usage: a plain number already in credit units."""
    return _non_negative(convert(value, None, "used"), value, "used")


def overage_between(used: Decimal, after: Decimal, limit: Decimal) -> Decimal:
    """Usage newly past ``limit`` when usage moves from ``used`` to ``after``."""
    return max(ZERO, after - limit) - max(ZERO, used - limit)


def _decide(
    entitlement: Entitlement | None, used: Used, amount: Amount | None, *, commit: bool, customer_id: str | None
) -> Decision:
    current = _used(used)
    if entitlement is None:
        return Decision(False, "not_in_plan", current)
    qty = None if amount is None else _amount(entitlement, amount)
    taken = qty if (commit and qty is not None) else ZERO
    lim = entitlement.limit
    if lim is None:
        return Decision(True, "ok", current, qty, consumed=taken)
    if lim.mode == "hard":
        fits = current < lim.value if qty is None else current + qty <= lim.value
        if not fits:
            events = (LimitReached(customer_id, entitlement.name, lim.credit, current, lim.value, amount=qty or ZERO),)
            return Decision(False, "limit_exceeded", current, qty, limit=lim.value, events=events if commit else ())
        return Decision(True, "ok", current, qty, consumed=taken, limit=lim.value)
    over = overage_between(current, current + (qty or ZERO), lim.value)
    events: tuple[PolicyEvent, ...] = ()
    if commit and over > 0:
        events = (MeterOverage(customer_id, entitlement.name, lim.credit, current + taken, lim.value, taken, over),)
    return Decision(True, "ok", current, qty, consumed=taken, limit=lim.value, overage=over, events=events)


def check(entitlement: Entitlement | None, used: Used = ZERO, amount: Amount | None = None) -> Decision:
    """Would :func:`allow` accept ``amount``? With ``amount=None``: access, and (hard limit) is anything left."""
    return _decide(entitlement, used, amount, commit=False, customer_id=None)


def allow(
    entitlement: Entitlement | None, used: Used, amount: Amount, *, customer_id: str | None = None
) -> Decision:
    """Decide and meter ``amount``: the decision's ``consumed`` must be added to the stored usage."""
    return _decide(entitlement, used, amount, commit=True, customer_id=customer_id)


def limit(entitlement: Entitlement | None) -> Decimal | None:
    """The limit in credit units, or None (not in plan, or a boolean entitlement)."""
    return entitlement.limit.value if entitlement and entitlement.limit else None


def remaining(entitlement: Entitlement | None, used: Used) -> Decimal | None:
    """``max(0, limit - used)``, or None when there is no limit."""
    lim = limit(entitlement)
    return None if lim is None else max(ZERO, lim - _used(used))


def value(entitlement: Entitlement | None, used: Used, percent: bool = False) -> Decimal | None:
    """Usage this period, or as a percentage of the limit (None when there is no positive limit)."""
    if entitlement is None:
        return None
    current = _used(used)
    if not percent:
        return current
    lim = limit(entitlement)
    return None if not lim else exact(current * 100 / lim)
