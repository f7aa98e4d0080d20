"""The policy document's model: frozen, validated dataclasses (parsed by :mod:`.reader`).

A policy is ``policy: {credits: {...}, plans: {...}}`` in the Limitr shape. A :class:`Credit` says how its units
are counted (``stof_units``), priced (``pricing_model`` ``flat``/``tiered``/``volume``/``stairstep`` over
:class:`CreditTier` bands) and what each unit costs you (``overhead_cost``). A :class:`PolicyPlan` maps
entitlement names to :class:`Entitlement` (boolean access, or a metered :class:`Limit` on one credit) and may
carry :class:`SpendCap` money ceilings. Numbers are exact ``Decimal`` in the credit's units.

Resets follow Limitr: a limit with ``resets: true`` repeats every ``reset_inc`` (30 days when omitted) from the
customer's anchor; a limit without ``resets`` never resets (a lifetime quota) whatever its credit's ``resets``
says (informational, as in Limitr). The plan's ``period`` is informational too (the billing period).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from ..errors import NotFound, ValidationError
from ..periods import Interval

PricingModel = Literal["flat", "tiered", "volume", "stairstep"]
LimitMode = Literal["hard", "soft", "observe"]
PRICING_MODELS: tuple[str, ...] = ("flat", "tiered", "volume", "stairstep")
LIMIT_MODES: tuple[str, ...] = ("hard", "soft", "observe")
DEFAULT_RESET = Interval(delta=timedelta(days=30))
"""Limitr's reset interval for a limit or cap with ``resets: true`` and no ``reset_inc``."""
ZERO = Decimal(0)


def reset_interval(resets: bool, reset_inc: Interval | None) -> Interval | None:
    """Limitr's rule for limits and caps: ``reset_inc`` when resetting, 30 days without one, else never."""
    if not resets:
        return None
    return reset_inc or DEFAULT_RESET


class PolicyError(ValidationError):
    """An invalid policy document; ``field`` is the dotted path, ``line`` the 1-based YAML line (or None)."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None):
        super().__init__(message, field)
        self.line = line

    def to_dict(self) -> dict:
        return {**super().to_dict(), "line": self.line}


@dataclass(frozen=True)
class CreditTier:
    """One price band ``(previous up_to, up_to]`` of billable units (``None``: the open-ended last band).

    ``price`` is a unit price for ``tiered`` and ``volume`` credits and the band's flat fee for ``stairstep``.
    """

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Credit:
    """A metered unit: how it is counted (``stof_units``), priced and what it costs you (``overhead_cost``)."""

    name: str
    description: str = ""
    overhead_cost: Decimal = ZERO
    pricing_model: PricingModel = "flat"
    tiers: tuple[CreditTier, ...] = ()
    price: Decimal | None = None
    stof_units: str | None = None
    resets: bool = False  # informational (Limitr): whether usage of this credit is meant to reset
    label: str = ""
    unit: str = ""

    @property
    def priced(self) -> bool:
        """Has a price: a flat ``price`` or pricing tiers (an unpriced credit's calls carry no price)."""
        return self.price is not None if self.pricing_model == "flat" else bool(self.tiers)


@dataclass(frozen=True)
class Limit:
    """A quota on one credit; ``value`` and ``minimum`` are in the credit's units.

    ``mode``: ``hard`` refuses what does not fit, ``soft`` consumes and reports overage, ``observe`` never
    refuses and bills nothing (a shadow limit: answers say whether the call went past ``value``).
    """

    credit: Credit
    mode: LimitMode
    value: Decimal
    resets: bool = False
    reset_inc: Interval | None = None  # None with resets: DEFAULT_RESET
    minimum: Decimal | None = None  # floor for usage (refunds stop there); None: usage may go below zero
    increment: Decimal = Decimal(1)  # Limitr's increment()/decrement() step (informational here)
    grants_apply: bool = True  # a covering balance (grants) may cover this limit's overage

    def reset_interval(self) -> Interval | None:
        """How often usage resets (None: a running total that never resets)."""
        return reset_interval(self.resets, self.reset_inc)


@dataclass(frozen=True)
class SpendCap:
    """A money ceiling on what a customer's calls are worth (Limitr's ``Cap``, declared per plan).

    ``value`` is in the policy's money (the unit of every ``price``). A call whose worth would take ``spent``
    past ``value`` is refused unless ``observe_only`` (then it only reports). ``scope`` lists the entitlements
    it covers (None: every entitlement of the plan with a priced credit). ``overage_only`` counts only units
    past the plan's limits; ``overhead_cost`` counts your cost (``overhead_cost`` × units) instead of the price;
    ``follow_decrements`` lets refunds lower ``spent``.
    """

    name: str
    value: Decimal
    observe_only: bool = False
    overage_only: bool = False
    overhead_cost: bool = False
    follow_decrements: bool = False
    resets: bool = False
    reset_inc: Interval | None = None
    scope: tuple[str, ...] | None = None

    def applies_to(self, entitlement: str) -> bool:
        return self.scope is None or entitlement in self.scope

    def reset_interval(self) -> Interval | None:
        return reset_interval(self.resets, self.reset_inc)


@dataclass(frozen=True)
class Entitlement:
    """A feature of a plan: boolean access when ``limit`` is None, otherwise a metered quota."""

    name: str
    description: str = ""
    limit: Limit | None = None


@dataclass(frozen=True)
class PolicyPlan:
    name: str
    label: str
    period: str  # the billing period (informational; limits reset on their own reset_inc)
    default: bool
    entitlements: Mapping[str, Entitlement] = field(default_factory=dict)
    caps: Mapping[str, SpendCap] = field(default_factory=dict)

    def reset_interval(self, entitlement: Entitlement) -> Interval | None:
        """How often the entitlement's usage resets (None: a running total that never resets)."""
        return None if entitlement.limit is None else entitlement.limit.reset_interval()

    def caps_for(self, entitlement: str) -> tuple[SpendCap, ...]:
        """The plan's caps that cover ``entitlement`` (in document order)."""
        return tuple(cap for cap in self.caps.values() if cap.applies_to(entitlement))


@dataclass(frozen=True)
class Policy:
    credits: Mapping[str, Credit]
    plans: Mapping[str, PolicyPlan]

    @property
    def default_plan(self) -> PolicyPlan:
        return next(plan for plan in self.plans.values() if plan.default)

    def plan(self, name: str | None = None) -> PolicyPlan:
        """The named plan, or the default plan when ``name`` is None."""
        if name is None:
            return self.default_plan
        try:
            return self.plans[name]
        except KeyError:
            raise NotFound(f"unknown plan {name!r}", "plan") from None

    def entitlement(self, plan: str | None, name: str) -> Entitlement | None:
        """The plan's entitlement, or None when the plan does not include it (access denied)."""
        return self.plan(plan).entitlements.get(name)


def load_policy(text: str, format: Literal["yaml", "json"] = "yaml") -> Policy:
    """Parse and validate a policy document; raises :class:`PolicyError` naming the offending path."""
    from .reader import read_policy

    return read_policy(text, format)
