"""Dodo Payments wire shapes for products (pure): request -> native product, plan -> Dodo ``Price``.

Dodo amounts are integers in minor units (``fixed_price``, ``price``) and ``price_per_unit`` is a
decimal string in minor units too (``"2"`` = $0.02 per unit); native products use major units,
so conversion is exact scaling by the currency's exponent (``pricing.from_minor``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..pricing import PerUnit, currency_exponent, from_minor
from ..pricing.decimals import text, to_decimal
from .plans import Plan

TAX_CATEGORIES = ("digital_products", "saas", "e_book", "edtech", "live_tutoring")
INTERVALS = {"day": "Day", "week": "Week", "month": "Month", "year": "Year"}
_PRICE_TYPES = ("usage_based_price", "recurring_price", "one_time_price")


def _minor_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field} must be a non-negative integer (minor units)", field)
    return value


def _major(minor: object, currency: str, field: str) -> str:
    """A minor-unit decimal (``"0.1"`` cents) as exact major-unit text (``"0.001"``)."""
    return text(to_decimal(minor, field).scaleb(-currency_exponent(currency)))


def product_from_dodo(body: Any) -> tuple[dict, str]:
    """A Dodo ``POST /products`` body -> (native product dict, tax category)."""
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", "body")
    price = body.get("price")
    if not isinstance(price, dict) or price.get("type") not in _PRICE_TYPES:
        raise ValidationError(f"price.type must be one of {', '.join(_PRICE_TYPES)}", "price.type")
    if price["type"] == "one_time_price":
        raise ValidationError("one-time prices are not billed by meterbase; use a recurring or usage-based price",
                              "price.type")
    tax = body.get("tax_category")
    if tax not in TAX_CATEGORIES:
        raise ValidationError(f"tax_category must be one of {', '.join(TAX_CATEGORIES)}", "tax_category")
    currency = price.get("currency")
    if not isinstance(currency, str):
        raise ValidationError("price.currency is required", "price.currency")
    currency_exponent(currency)
    usage = price["type"] == "usage_based_price"
    fee_key = "fixed_price" if usage else "price"
    fee = from_minor(_minor_int(price.get(fee_key), f"price.{fee_key}"), currency)
    meters = []
    for i, m in enumerate((price.get("meters") or []) if usage else []):
        where = f"price.meters[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("meter_id"), str):
            raise ValidationError("meter_id is required", f"{where}.meter_id")
        ppu = m.get("price_per_unit")
        if m.get("credit_entitlement_id"):  # paid with credits: no price of its own (billing.credit_links)
            meters.append({"meter_id": m["meter_id"], "credit_entitlement_id": m["credit_entitlement_id"],
                           "meter_units_per_credit": m.get("meter_units_per_credit")})
            continue
        meters.append({"meter_id": m["meter_id"],
                       "price_per_unit": "0" if ppu is None else _major(ppu, currency, f"{where}.price_per_unit"),
                       "free_threshold": m.get("free_threshold") or 0})
    native = {
        "name": body.get("name"), "description": body.get("description"), "currency": currency,
        "fixed_fee": text(fee), "meters": meters, "metadata": body.get("metadata") or {},
        "credit_entitlements": body.get("credit_entitlements"),
        "billing_period": {"interval": price.get("payment_frequency_interval", "Month"),
                           "count": price.get("payment_frequency_count", 1)},
    }
    return native, tax


def _meter_item(plan: Plan, line, exponent: int) -> dict[str, Any]:
    price = line.price
    per_unit = isinstance(price, PerUnit)
    out = {
        "meter_id": line.meter_id,
        "price_per_unit": text(price.unit_price.scaleb(exponent)) if per_unit else None,
        "free_threshold": int(price.free_threshold),
        "name": line.description or line.meter_id,
        "description": line.description,
    }
    if line.credits is not None:
        out.update(credit_entitlement_id=line.credits.entitlement_id,
                   meter_units_per_credit=text(line.credits.units_per_credit))
    return out


def dodo_price(plan: Plan) -> dict[str, Any]:
    """The Dodo ``Price`` of a plan: usage-based when it has meters, recurring otherwise."""
    exponent = currency_exponent(plan.currency)
    common = {
        "currency": plan.currency, "payment_frequency_count": plan.cycle.count,
        "payment_frequency_interval": INTERVALS[plan.cycle.unit], "subscription_period_count": 20,
        "subscription_period_interval": "Year", "discount": 0, "purchasing_power_parity": False,
        "tax_inclusive": False,
    }
    if plan.usage:
        return {**common, "type": "usage_based_price", "fixed_price": plan.fixed_fee.minor,
                "meters": [_meter_item(plan, line, exponent) for line in plan.usage]}
    return {**common, "type": "recurring_price", "price": plan.fixed_fee.minor}


def meter_cart(plan: Plan, units: dict[str, str]) -> list[dict[str, Any]]:
    """Subscription ``meters`` (MeterCartItem): the plan's meters with currency and unit names."""
    exponent = currency_exponent(plan.currency)
    return [{**_meter_item(plan, line, exponent), "currency": plan.currency,
             "measurement_unit": units.get(line.meter_id, "units")} for line in plan.usage]

