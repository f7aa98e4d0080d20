"""Handler events emitted by the policy engine, as plain frozen dataclasses with a ``payload()`` dict.

The engine only *describes* what happened; firing handlers and persisting events is the service's job. Every
decision that moved usage fires one meter event, like Limitr:

* ``meter-changed`` — usage moved (a refund too) with no uncovered overage;
* ``meter-overage`` — a soft limit went past its value: bill ``overage`` units for ``overage_price``;
* ``limit-reached`` — a hard limit refused the call, nothing consumed (Limitr's ``meter-limit``);
* ``cap-limit`` — a spend cap refused the call, nothing consumed;
* ``cap-threshold-crossed`` — a cap's spending reached its value on this call (observe-only caps too);
* ``reset`` — a period closed (Limitr's ``meter-reset``; built by the service when it notices the rollover).

Base payload: ``{customer: {id}, entitlement, credit: {name, description}, used, limit}``. Meter events add the
call: ``plan``, ``amount``, ``price_diff`` (what the call's billable units are worth at list price, from the
customer's tier position; null for an unpriced credit), ``overhead_cost`` (what the call cost you) and Limitr's
``meter: {old, value, limit, diff, price_diff, overhead_diff}``. Amounts are exact ``Decimal`` in the credit's
units, prices in the policy's money, instants RFC 3339 strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from ..timeutil import iso
from .document import Credit

METER_CHANGED = "meter-changed"
METER_OVERAGE = "meter-overage"
LIMIT_REACHED = "limit-reached"
CAP_LIMIT = "cap-limit"
CAP_THRESHOLD_CROSSED = "cap-threshold-crossed"
RESET = "reset"
ZERO = Decimal(0)


@dataclass(frozen=True)
class PolicyEvent:
    """Common fields: ``used`` is the entitlement's usage after the call (before it, when refused)."""

    name: ClassVar[str]

    customer_id: str | None
    entitlement: str
    credit: Credit
    used: Decimal
    limit: Decimal

    def payload(self) -> dict[str, Any]:
        return {
            "customer": {"id": self.customer_id},
            "entitlement": self.entitlement,
            "credit": {"name": self.credit.name, "description": self.credit.description},
            "used": self.used,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class MeterEvent(PolicyEvent):
    """A call on a metered entitlement: ``old`` usage before it, ``amount`` its change, and its price and cost."""

    plan: str | None = None
    old: Decimal = ZERO
    amount: Decimal = ZERO
    price_diff: Decimal | None = None
    overhead_cost: Decimal = ZERO

    def payload(self) -> dict[str, Any]:
        return {
            **super().payload(),
            "plan": self.plan,
            "amount": self.amount,
            "remaining": max(ZERO, self.limit - self.used),
            "price_diff": self.price_diff,
            "overhead_cost": self.overhead_cost,
            "meter": {"old": self.old, "value": self.used, "limit": self.limit, "diff": self.amount,
                      "price_diff": self.price_diff, "overhead_diff": self.overhead_cost},
        }


@dataclass(frozen=True)
class MeterChanged(MeterEvent):
    """Usage moved by ``amount`` (negative: a refund) without uncovered overage."""

    name: ClassVar[str] = METER_CHANGED


@dataclass(frozen=True)
class MeterOverage(MeterEvent):
    """A soft-limited call consumed ``amount``, of which ``overage`` is newly past the limit and billable for
    ``overage_price``; ``covered`` units were covered by a balance (a grant) before becoming overage."""

    name: ClassVar[str] = METER_OVERAGE
    overage: Decimal = ZERO
    overage_price: Decimal | None = None
    covered: Decimal = ZERO

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "overage": self.overage, "overage_price": self.overage_price,
                "covered": self.covered}


@dataclass(frozen=True)
class LimitReached(MeterEvent):
    """A hard-limited call of ``amount`` was refused; ``used`` is unchanged, ``price_diff`` what it was worth."""

    name: ClassVar[str] = LIMIT_REACHED

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        out["meter"] = {**out["meter"], "old": self.used, "invalid": self.used + self.amount}
        return out


@dataclass(frozen=True)
class CapLimit(MeterEvent):
    """A spend cap refused the call (nothing consumed): the cap's ``value``, what was ``spent`` and the call's
    ``charge`` against it."""

    name: ClassVar[str] = CAP_LIMIT
    cap: str = ""
    cap_value: Decimal = ZERO
    cap_spent: Decimal = ZERO
    cap_charge: Decimal = ZERO

    def payload(self) -> dict[str, Any]:
        return {**super().payload(),
                "cap": {"name": self.cap, "value": self.cap_value, "spent": self.cap_spent, "charge": self.cap_charge}}


@dataclass(frozen=True)
class CapThresholdCrossed(PolicyEvent):
    """Spending against cap ``cap`` reached its ``cap_value`` on this call (``cap_spent`` after it)."""

    name: ClassVar[str] = CAP_THRESHOLD_CROSSED
    cap: str = ""
    cap_value: Decimal = ZERO
    cap_spent: Decimal = ZERO
    observe_only: bool = False

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "cap": {"name": self.cap, "value": self.cap_value, "spent": self.cap_spent,
                                             "observe_only": self.observe_only}}


@dataclass(frozen=True)
class Reset(PolicyEvent):
    """The period ``[period_start, period_end)`` closed with ``used`` consumed; usage starts again at 0."""

    name: ClassVar[str] = RESET
    period_start: datetime | None = None
    period_end: datetime | None = None

    def payload(self) -> dict[str, Any]:
        start, end = self.period_start, self.period_end
        return {
            **super().payload(),
            "period_start": None if start is None else iso(start),
            "period_end": None if end is None else iso(end),
        }
