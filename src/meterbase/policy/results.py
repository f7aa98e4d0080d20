"""What the policy service answers: customers, stored documents, decisions (:class:`Outcome`) and standings.

Plain frozen dataclasses with ``to_dict()`` in the shape the HTTP API returns: amounts are exact decimal strings
(``"3600"``, ``"0.5"``), prices too (in the policy's money, unrounded: an invoice rounds once per line), instants
RFC 3339. :func:`payload_json` renders a handler/webhook event the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ..timeutil import from_us, iso
from ..units import exact
from . import engine
from .caps import CapResult
from .document import Policy
from .events import PolicyEvent


def text(value: Decimal | None) -> str | None:
    """Exact plain text of a decimal (``1.5E+3`` -> ``"1500"``), whatever its size; None stays None."""
    return None if value is None else format(exact(value), "f")


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def _parse_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def payload_json(event: PolicyEvent) -> str:
    """The handler/webhook payload of ``event`` as JSON; amounts are exact decimal strings."""
    return orjson.dumps(event.payload(), default=_json_default).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return text(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class PolicyCustomer:
    """A customer as the policy engine knows them: their plan and the anchor their periods repeat from."""

    id: str
    plan: str
    anchor: datetime  # periods repeat from here
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row) -> "PolicyCustomer":
        return cls(row.customer_id, row.plan, from_us(row.anchor), from_us(row.created_at), from_us(row.updated_at))

    def to_dict(self) -> dict:
        return {
            "customer_id": self.id, "plan": self.plan, "anchor": iso(self.anchor),
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class PolicyVersion:
    """A stored policy document; ``created`` is False when publishing found it already active."""

    environment: str
    version: int
    format: str
    source: str
    created_at: datetime
    policy: Policy
    created: bool = False

    def to_dict(self, include_source: bool = False) -> dict:
        out = {
            "environment": self.environment,
            "version": self.version,
            "format": self.format,
            "created_at": iso(self.created_at),
            "credits": sorted(self.policy.credits),
            "plans": {
                name: {"label": p.label, "period": p.period, "default": p.default, "entitlements": sorted(p.entitlements),
                       "caps": sorted(p.caps)}
                for name, p in self.policy.plans.items()
            },
        }
        if include_source:
            out["source"] = self.source
        return out


def _caps_from(raw: list[dict] | None) -> tuple[CapResult, ...]:
    return tuple(CapResult(c["name"], Decimal(c["value"]), Decimal(c["spent"]), Decimal(c["charge"]), c["observe_only"],
                           c.get("crossed", False)) for c in raw or ())


@dataclass(frozen=True)
class Outcome:
    """A decision of :meth:`PolicyService.check` / :meth:`~PolicyService.allow`, with its context.

    Truthy when allowed. ``decision`` is the pure core's :class:`~.engine.Decision`; ``event_id`` the usage
    event recorded (None if nothing was consumed); ``replayed`` is True when an idempotency key returned
    an earlier decision without consuming again.
    """

    decision: engine.Decision
    customer_id: str
    entitlement: str
    plan: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    event_id: str | None = None
    replayed: bool = False
    policy_version: int | None = None
    credit: str | None = None
    mode: str | None = None

    def __bool__(self) -> bool:
        return self.decision.allowed

    def __getattr__(self, name: str) -> Any:  # allowed, reason, used, consumed, price_diff... from the decision
        if name == "decision":
            raise AttributeError(name)
        return getattr(self.decision, name)

    def to_dict(self) -> dict:
        d = self.decision
        return {
            "allowed": d.allowed,
            "reason": d.reason,
            "customer_id": self.customer_id,
            "entitlement": self.entitlement,
            "plan": self.plan,
            "credit": self.credit,
            "mode": self.mode,
            "amount": text(d.amount),
            "consumed": text(d.consumed),
            "used": text(d.used),
            "used_after": text(d.used_after),
            "limit": text(d.limit),
            "remaining": text(d.remaining),
            "overage": text(d.overage),
            "over_limit": d.over_limit,
            "price_diff": text(d.price_diff),
            "overage_price": text(d.overage_price),
            "overhead_cost": text(d.overhead_cost),
            "covered": text(d.covered),
            "covered_price": text(d.covered_price),
            "cap": d.cap,
            "caps": [c.to_dict(text) for c in d.caps],
            "period_start": _instant(self.period_start),
            "period_end": _instant(self.period_end),
            "event_id": self.event_id,
            "replayed": self.replayed,
            "policy_version": self.policy_version,
        }

    @classmethod
    def from_dict(cls, data: dict, *, replayed: bool = False) -> "Outcome":
        """An outcome stored by :meth:`to_dict` (decisions recorded before prices existed read as unpriced)."""
        decision = engine.Decision(
            allowed=data["allowed"], reason=data["reason"], used=Decimal(data["used"]), amount=_dec(data["amount"]),
            consumed=Decimal(data["consumed"]), limit=_dec(data["limit"]), overage=Decimal(data["overage"]),
            mode=data.get("mode"), price_diff=_dec(data.get("price_diff")), overage_price=_dec(data.get("overage_price")),
            overhead_cost=_dec(data.get("overhead_cost")), covered=Decimal(data.get("covered", "0")),
            covered_price=Decimal(data.get("covered_price", "0")), caps=_caps_from(data.get("caps")),
            cap=data.get("cap"), over_limit=data.get("over_limit", False),
        )
        return cls(
            decision, data["customer_id"], data["entitlement"], data["plan"],
            period_start=_parse_instant(data.get("period_start")), period_end=_parse_instant(data.get("period_end")),
            event_id=data.get("event_id"), replayed=replayed, policy_version=data.get("policy_version"),
            credit=data.get("credit"), mode=data.get("mode"),
        )


@dataclass(frozen=True)
class Status:
    """An entitlement's standing this period (what a dashboard shows), with the period's priced totals.

    ``price`` / ``overage_price`` / ``cost`` add up the period's calls (None for a period counted before prices
    were recorded); ``caps`` are the plan's spend caps covering the entitlement, with what was spent so far.
    """

    customer_id: str
    entitlement: str
    plan: str
    included: bool
    credit: str | None
    mode: str | None
    used: Decimal | None
    limit: Decimal | None
    remaining: Decimal | None
    percent: Decimal | None
    overage: Decimal
    period_start: datetime | None
    period_end: datetime | None
    remaining_percent: Decimal | None = None
    price: Decimal | None = None
    overage_price: Decimal | None = None
    cost: Decimal | None = None
    caps: tuple[CapResult, ...] = ()

    def to_dict(self) -> dict:
        return {
            "customer_id": self.customer_id, "entitlement": self.entitlement, "plan": self.plan,
            "included": self.included, "credit": self.credit, "mode": self.mode,
            "used": text(self.used), "limit": text(self.limit), "remaining": text(self.remaining),
            "percent": text(self.percent), "remaining_percent": text(self.remaining_percent),
            "overage": text(self.overage), "price": text(self.price), "overage_price": text(self.overage_price),
            "cost": text(self.cost), "caps": [c.to_dict(text) for c in self.caps],
            "period_start": _instant(self.period_start), "period_end": _instant(self.period_end),
        }
