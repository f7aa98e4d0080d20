"""Handler events emitted by the policy engine, as plain frozen dataclasses with a ``payload()`` dict.

The engine only *describes* what happened; firing handlers and persisting events is the storage layer's
job. ``meter-overage`` (a soft limit went past its value: bill ``overage``), ``limit-reached`` (a hard limit
refused an ``allow``; nothing was consumed) and ``reset`` (a period closed; built by the storage layer when it
notices the rollover) share the base payload ``{customer: {id}, entitlement, credit: {name, description},
used, limit}``. Amounts stay exact ``Decimal`` in the credit's units; instants are RFC 3339 strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from ..timeutil import iso
from .document import Credit

METER_OVERAGE = "meter-overage"
LIMIT_REACHED = "limit-reached"
RESET = "reset"


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
class MeterOverage(PolicyEvent):
    """A soft-limited ``allow`` consumed ``amount``, of which ``overage`` is newly past the limit."""

    name: ClassVar[str] = METER_OVERAGE
    amount: Decimal = Decimal(0)
    overage: Decimal = Decimal(0)

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "amount": self.amount, "overage": self.overage}


@dataclass(frozen=True)
class LimitReached(PolicyEvent):
    """A hard-limited ``allow`` of ``amount`` was refused; ``used`` is unchanged."""

    name: ClassVar[str] = LIMIT_REACHED
    amount: Decimal = Decimal(0)

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "amount": self.amount}


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
