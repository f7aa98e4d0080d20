"""Price models and their exact, currency-free computation of a quantity's charge.

This module owns the ``PriceModel`` base (free threshold, minimum, maximum, validation on
construction, ``to_dict``) and the simple models ``PerUnit``, ``Package`` and ``Flat``; tiered
models live in ``tiers.py``. The rules, in order: (1) free units come off first for every usage
model -- ``free_units = min(quantity, free_threshold)``, ``billable = quantity - free_units`` -- and
tier boundaries count billable units; (2) the model prices the billable units exactly (the
``subtotal``); (3) ``minimum`` then ``maximum`` clamp that exact subtotal (the minimum applies even
at zero usage); (4) nothing here rounds -- ``lines.price_line`` rounds the exact amount once to the
currency. ``Flat`` ignores the quantity and so refuses a free threshold.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from ..errors import ValidationError
from .decimals import exact, optional_decimal, quantity as quantity_decimal, text, to_decimal

ZERO = Decimal(0)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TierCharge:
    """One tier's share of a line: ``units`` in ``(from_, to]`` at ``unit_price`` plus ``flat_fee``."""

    from_: Decimal
    to: Decimal | None
    units: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal

    def to_dict(self) -> dict[str, str | None]:
        data = {f.name.rstrip("_"): getattr(self, f.name) for f in fields(self)}
        return {k: None if v is None else text(v) for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """What a model charges for its billable units, before the minimum/maximum clamp."""

    amount: Decimal
    unit_price: Decimal | None = None
    tiers: tuple[TierCharge, ...] = ()
    packages: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The exact (unrounded) pricing of one quantity under one model."""

    model: str
    quantity: Decimal
    free_units: Decimal
    billable_units: Decimal
    unit_price: Decimal | None  # set when a single unit price applies (per_unit, volume)
    tiers: tuple[TierCharge, ...]
    packages: Decimal | None  # set for package pricing
    subtotal: Decimal  # exact usage charge before minimum/maximum
    exact_amount: Decimal  # subtotal clamped to [minimum, maximum]; rounded once by price_line


def to_dict(obj: Any) -> dict[str, Any]:
    """Serialise a pricing dataclass: Decimals as strings, fields equal to their default omitted."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.default is not MISSING and value == f.default:
            continue
        if isinstance(value, tuple):
            out[f.name] = [item.to_dict() for item in value]
        else:
            out[f.name] = text(value) if isinstance(value, Decimal) else value
    return out


def build(cls: type[T], raw: object, where: str = "") -> T:
    """``cls(**raw)`` for a dict from JSON, with unknown keys and field errors reported at ``where``."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{where.rstrip('.') or 'price'} must be an object", where.rstrip(".") or None)
    init = [f for f in fields(cls) if f.init]
    extra = sorted(set(raw) - {f.name for f in init}, key=str)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(map(str, extra))}", f"{where}{extra[0]}")
    missing = [f.name for f in init if f.name not in raw and f.default is MISSING]
    if missing:
        raise ValidationError(f"{missing[0]} is required", f"{where}{missing[0]}")
    try:
        return cls(**raw)
    except ValidationError as exc:
        raise ValidationError(exc.message, f"{where}{exc.field}" if exc.field else where.rstrip(".")) from None


def set_field(obj: object, name: str, value: object) -> None:
    """Store a coerced value on a frozen dataclass during validation."""
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, kw_only=True)
class PriceModel:
    """Base of every price model. Numeric inputs are coerced to ``Decimal`` by ``validate``."""

    kind: ClassVar[str]
    free_threshold: Decimal = ZERO
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (naming it in ``ValidationError.field``) and coerce numbers to Decimal."""
        set_field(self, "free_threshold", to_decimal(self.free_threshold, "free_threshold"))
        set_field(self, "minimum", optional_decimal(self.minimum, "minimum"))
        set_field(self, "maximum", optional_decimal(self.maximum, "maximum"))
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValidationError("minimum must not exceed maximum", "minimum")
        self._validate()

    def _validate(self) -> None:
        raise NotImplementedError

    def _usage(self, billable: Decimal) -> UsageCharge:
        raise NotImplementedError

    def breakdown(self, quantity: Decimal | int | str) -> Breakdown:
        """Exact charge and breakdown for ``quantity`` (see the module docstring for the rules)."""
        qty = quantity_decimal(quantity)
        with exact():
            free = min(qty, self.free_threshold)
            billable = qty - free
            usage = self._usage(billable)
            amount = usage.amount
            if self.minimum is not None:
                amount = max(amount, self.minimum)
            if self.maximum is not None:
                amount = min(amount, self.maximum)
        return Breakdown(
            model=self.kind, quantity=qty, free_units=free, billable_units=billable,
            unit_price=usage.unit_price, tiers=usage.tiers, packages=usage.packages,
            subtotal=usage.amount, exact_amount=amount,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.kind, **to_dict(self)}


@dataclass(frozen=True, kw_only=True)
class PerUnit(PriceModel):
    """``billable × unit_price`` (e.g. $0.001 per API call after 1,000 free)."""

    kind: ClassVar[str] = "per_unit"
    unit_price: Decimal

    def _validate(self) -> None:
        set_field(self, "unit_price", to_decimal(self.unit_price, "unit_price"))

    def _usage(self, billable: Decimal) -> UsageCharge:
        return UsageCharge(billable * self.unit_price, unit_price=self.unit_price)


@dataclass(frozen=True, kw_only=True)
class Package(PriceModel):
    """``package_price`` per started package of ``package_size`` units: ``ceil(billable / size) × price``."""

    kind: ClassVar[str] = "package"
    package_size: Decimal
    package_price: Decimal

    def _validate(self) -> None:
        set_field(self, "package_size", to_decimal(self.package_size, "package_size", positive=True))
        set_field(self, "package_price", to_decimal(self.package_price, "package_price"))

    def _usage(self, billable: Decimal) -> UsageCharge:
        whole, rest = divmod(billable, self.package_size)
        packages = whole + (1 if rest else 0)
        return UsageCharge(packages * self.package_price, packages=packages)


@dataclass(frozen=True, kw_only=True)
class Flat(PriceModel):
    """A fixed ``amount`` whatever the quantity (a platform fee); a free threshold is meaningless."""

    kind: ClassVar[str] = "flat"
    amount: Decimal

    def _validate(self) -> None:
        set_field(self, "amount", to_decimal(self.amount, "amount"))
        if self.free_threshold:
            raise ValidationError("a flat price does not depend on quantity; remove free_threshold", "free_threshold")

    def _usage(self, billable: Decimal) -> UsageCharge:
        return UsageCharge(self.amount)
