"""Products as plans: a recurring fixed fee plus up to ``MAX_METERS`` usage lines, one currency.

Wire format (native API)::

    {"name": "AI Platform", "currency": "USD", "fixed_fee": "49.00",
     "billing_period": {"interval": "month", "count": 1},
     "meters": [{"meter_id": "mtr_…", "price_per_unit": "0.001", "free_threshold": "1000"},
                {"meter_id": "mtr_…", "price": {"model": "graduated", "tiers": [...]}}]}

A meter line takes either ``price`` (any ``pricing`` model) or the per-unit shorthand
``price_per_unit`` + ``free_threshold`` (amounts in major units). ``fixed_fee`` must fit the
currency's minor unit. A meter appears at most once per product.

Credits (``billing.credit_links``): ``credit_entitlements`` lists the credits a subscription receives each
cycle; a meter line with ``credit_entitlement_id`` + ``meter_units_per_credit`` is paid with credits (it takes
no price: its line is priced at zero, and the credit's overage rules bill what credits did not cover).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..pricing import Money, PriceModel, price_from_dict
from ..pricing.decimals import to_decimal
from .credit_links import (CreditAttachment, MeterCredits, attachments_from_stored, meter_credits_from_stored,
                           parse_attachments, parse_meter_credits)
from .grace import parse_grace_hours
from .periods import Cycle, parse_cycle

MAX_METERS = 10
_PRODUCT_KEYS = {"name", "description", "currency", "fixed_fee", "billing_period", "meters", "metadata", "tax_category",
                 "grace_period_hours", "credit_entitlements"}
_LINE_KEYS = {"meter_id", "price", "price_per_unit", "free_threshold", "description", "credit_entitlement_id",
              "meter_units_per_credit"}


@dataclass(frozen=True)
class UsagePrice:
    """One usage line of a product: the meter and its price model."""

    meter_id: str
    price: PriceModel
    description: str | None = None
    credits: MeterCredits | None = None  # paid with credits (the price is then zero)

    def to_dict(self) -> dict[str, Any]:
        out = {"meter_id": self.meter_id, "price": self.price.to_dict(), "description": self.description}
        return out if self.credits is None else {**out, **self.credits.to_dict()}


@dataclass(frozen=True)
class Plan:
    """A validated product definition (what the invoice core needs)."""

    name: str
    currency: str
    fixed_fee: Money
    cycle: Cycle
    usage: tuple[UsagePrice, ...]
    product_id: str = ""
    description: str | None = None
    grace_period_hours: int | None = None  # None: the default (billing.grace)
    credits: tuple[CreditAttachment, ...] = ()

    def usage_dicts(self) -> list[dict[str, Any]]:
        return [u.to_dict() for u in self.usage]

    def credit_dicts(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.credits]


def _text(raw: dict, key: str, required: bool, limit: int = 255) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError(f"{key} must be a non-empty string of at most {limit} characters", key)
    return value


def _usage_line(raw: object, i: int) -> UsagePrice:
    where = f"meters[{i}]"
    if not isinstance(raw, dict):
        raise ValidationError("each meter line must be an object", where)
    extra = sorted(set(raw) - _LINE_KEYS)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", f"{where}.{extra[0]}")
    meter_id = raw.get("meter_id")
    if not isinstance(meter_id, str) or not meter_id:
        raise ValidationError("meter_id is required", f"{where}.meter_id")
    has_price, has_ppu = raw.get("price") is not None, raw.get("price_per_unit") is not None
    credits = parse_meter_credits(raw, where)
    if credits is not None:
        if has_price or has_ppu or raw.get("free_threshold") is not None:
            raise ValidationError("a meter paid with credits takes no price of its own (the credit entitlement's "
                                  "overage rules price what credits do not cover)",
                                  f"{where}.{'price' if has_price else 'price_per_unit'}")
        description = raw.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise ValidationError("description must be a string of at most 255 characters", f"{where}.description")
        return UsagePrice(meter_id, price_from_dict({"model": "per_unit", "unit_price": "0"}), description, credits)
    if has_price == has_ppu:
        raise ValidationError("give exactly one of price or price_per_unit", f"{where}.price")
    free = raw.get("free_threshold")
    spec = raw["price"] if has_price else {
        "model": "per_unit", "unit_price": raw["price_per_unit"], "free_threshold": 0 if free is None else free,
    }
    description = raw.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise ValidationError("description must be a string of at most 255 characters", f"{where}.description")
    if has_price and raw.get("free_threshold") is not None:
        raise ValidationError("put free_threshold inside price", f"{where}.free_threshold")
    try:
        price = price_from_dict(spec)
    except ValidationError as exc:
        prefix = f"{where}.price" if has_price else where
        field = exc.field if not has_price or exc.field != "price" else None
        if not has_price and field == "unit_price":
            field = "price_per_unit"
        raise ValidationError(exc.message, f"{prefix}.{field}" if field else prefix) from None
    return UsagePrice(meter_id, price, description)


def fixed_fee(value: object, currency: str, field: str = "fixed_fee") -> Money:
    """A fixed fee in major units that must fit ``currency``'s minor unit exactly."""
    amount = to_decimal(0 if value is None else value, field)
    try:
        return Money(amount, currency)
    except ValidationError as exc:
        raise ValidationError(exc.message, field if exc.field == "amount" else exc.field) from None


def parse_product(raw: object) -> Plan:
    """Validate a native product definition (module docstring) into a :class:`Plan`."""
    if not isinstance(raw, dict):
        raise ValidationError("product must be an object", "body")
    extra = sorted(set(raw) - _PRODUCT_KEYS)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])
    name = _text(raw, "name", True)
    description = _text(raw, "description", False, 4000)
    currency = raw.get("currency")
    if not isinstance(currency, str):
        raise ValidationError("currency is required (ISO 4217, e.g. USD)", "currency")
    fee = fixed_fee(raw.get("fixed_fee"), currency)
    period = raw.get("billing_period")
    period = {} if period is None else period
    if not isinstance(period, dict):
        raise ValidationError("billing_period must be an object {interval, count}", "billing_period")
    cycle = parse_cycle(period.get("interval", "month"), period.get("count", 1))
    lines = raw.get("meters")
    lines = [] if lines is None else lines
    if not isinstance(lines, list):
        raise ValidationError("meters must be a list", "meters")
    if len(lines) > MAX_METERS:
        raise ValidationError(f"a product has at most {MAX_METERS} meters", "meters")
    usage = tuple(_usage_line(line, i) for i, line in enumerate(lines))
    seen: set[str] = set()
    for i, u in enumerate(usage):
        if u.meter_id in seen:
            raise ValidationError(f"meter {u.meter_id!r} appears twice", f"meters[{i}].meter_id")
        seen.add(u.meter_id)
    return Plan(name=name, currency=fee.currency, fixed_fee=fee, cycle=cycle, usage=usage, description=description,
                grace_period_hours=parse_grace_hours(raw.get("grace_period_hours")),
                credits=parse_attachments(raw.get("credit_entitlements")))


def plan_from_stored(product_id: str, name: str, currency: str, fee: Decimal, unit: str, count: int,
                     lines: list[dict], description: str | None = None, grace_period_hours: int | None = None,
                     credits: list[dict] | None = None) -> Plan:
    """Rebuild a :class:`Plan` from its stored form (``Plan.usage_dicts``, ``Plan.credit_dicts``)."""
    usage = tuple(UsagePrice(d["meter_id"], price_from_dict(d["price"]), d.get("description"),
                             meter_credits_from_stored(d)) for d in lines)
    return Plan(name=name, currency=currency, fixed_fee=Money(fee, currency), cycle=Cycle(unit, count),
                usage=usage, product_id=product_id, description=description, grace_period_hours=grace_period_hours,
                credits=attachments_from_stored(credits))
