"""Tiered price models: ``PriceTier``, ``Graduated`` and ``Volume``.

This module owns tier validation and tier arithmetic. Tiers are listed in ascending order; tier
``i`` covers billable units in ``(up_to[i-1], up_to[i]]`` (the first starts at 0) and the last
tier must be unbounded (``up_to`` None). ``Graduated`` prices each unit at the tier it falls in
and adds the ``flat_fee`` of every tier that holds at least one unit. ``Volume`` prices every unit
at the tier the total billable quantity reaches (a quantity exactly on ``up_to`` stays in that
tier) and adds that tier's ``flat_fee``; zero billable units cost nothing in both models.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Iterator

from ..errors import ValidationError
from .decimals import optional_decimal, to_decimal
from .models import ZERO, PriceModel, TierCharge, UsageCharge, build, set_field, to_dict


@dataclass(frozen=True)
class PriceTier:
    """One tier: units up to ``up_to`` (None = unbounded) at ``unit_price``, plus ``flat_fee``."""

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        set_field(self, "up_to", optional_decimal(self.up_to, "up_to", positive=True))
        set_field(self, "unit_price", to_decimal(self.unit_price, "unit_price"))
        set_field(self, "flat_fee", to_decimal(self.flat_fee, "flat_fee"))

    def charge(self, lower: Decimal, units: Decimal) -> TierCharge:
        return TierCharge(lower, self.up_to, units, self.unit_price, self.flat_fee,
                          units * self.unit_price + self.flat_fee)

    def to_dict(self) -> dict:
        return to_dict(self)


@dataclass(frozen=True, kw_only=True)
class _Tiered(PriceModel):
    tiers: tuple[PriceTier, ...]

    def _validate(self) -> None:
        raw = self.tiers
        if not isinstance(raw, (list, tuple)) or not raw:
            raise ValidationError("tiers must be a non-empty list", "tiers")
        tiers = tuple(t if isinstance(t, PriceTier) else build(PriceTier, t, f"tiers.{i}.") for i, t in enumerate(raw))
        last = len(tiers) - 1
        for i, tier in enumerate(tiers):
            if tier.up_to is None and i != last:
                raise ValidationError("only the last tier may be unbounded (up_to null)", f"tiers.{i}.up_to")
            if tier.up_to is not None and i == last:
                raise ValidationError("the last tier must be unbounded (up_to null)", f"tiers.{i}.up_to")
            if i and tier.up_to is not None and tier.up_to <= tiers[i - 1].up_to:
                raise ValidationError("tier up_to values must be strictly ascending", f"tiers.{i}.up_to")
        set_field(self, "tiers", tiers)

    def _spans(self) -> Iterator[tuple[Decimal, PriceTier]]:
        """``(lower bound, tier)`` pairs in order."""
        lower = ZERO
        for tier in self.tiers:
            yield lower, tier
            lower = tier.up_to


@dataclass(frozen=True, kw_only=True)
class Graduated(_Tiered):
    kind: ClassVar[str] = "graduated"

    def _usage(self, billable: Decimal) -> UsageCharge:
        charges = []
        for lower, tier in self._spans():
            if billable <= lower:
                break
            top = billable if tier.up_to is None else min(billable, tier.up_to)
            charges.append(tier.charge(lower, top - lower))
        return UsageCharge(sum((c.amount for c in charges), ZERO), tiers=tuple(charges))


@dataclass(frozen=True, kw_only=True)
class Volume(_Tiered):
    kind: ClassVar[str] = "volume"

    def _usage(self, billable: Decimal) -> UsageCharge:
        lower, tier = next((lo, t) for lo, t in self._spans() if t.up_to is None or billable <= t.up_to)
        if not billable:
            return UsageCharge(ZERO, unit_price=tier.unit_price)
        charge = tier.charge(lower, billable)
        return UsageCharge(charge.amount, unit_price=tier.unit_price, tiers=(charge,))
