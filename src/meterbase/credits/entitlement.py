"""Credit entitlements (pure): what a credit is and how its grants behave, validated field by field.

An entitlement is the reusable definition of a credit (Dodo's ``CreditEntitlement``): its ``unit``
and ``precision`` (0–10 places, fixed at creation), expiry (``expires_after_days``), rollover at the
end of a cycle (``rollover_percentage`` of what is left, valid for ``rollover_timeframe_count`` ×
``rollover_timeframe_interval``, at most ``max_rollover_count`` times in a row), and overage (debits
past a zero balance when ``overage_enabled``, up to ``overage_limit`` units, priced at
``price_per_unit`` in ``currency`` and handled at cycle end by ``overage_behavior``). meterbase adds
``low_balance_threshold_percent`` (Dodo sets it where a product attaches the credit) and
``covers_policy_usage``: a money credit (``price_per_unit`` is money per credit, 1 for a fiat credit) whose
balances pay for the priced usage of the policy engine's ``allow()`` before it becomes overage (Limitr's
grants; at most one such entitlement per environment).

:func:`parse_entitlement` validates a create body, :func:`apply_update` a partial update (fields
present with ``null`` clear the value); both check the merged rules Dodo states: a price needs a
currency, overage needs a price, the two rollover timeframe fields come together. Prices are
major units here; the Dodo routes convert minor units at their edge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..pricing import currency_exponent
from ..pricing.decimals import text as decimal_text, to_decimal
from .amounts import at_precision, parse_amount, text

FORGIVE_AT_RESET = "forgive_at_reset"
INVOICE_AT_BILLING = "invoice_at_billing"
CARRY_DEFICIT = "carry_deficit"
CARRY_DEFICIT_AUTO_REPAY = "carry_deficit_auto_repay"
OVERAGE_BEHAVIORS = (FORGIVE_AT_RESET, INVOICE_AT_BILLING, CARRY_DEFICIT, CARRY_DEFICIT_AUTO_REPAY)
#: Dodo's ``TimeInterval`` values, and the cycle unit each is.
TIME_INTERVALS = {"Day": "day", "Week": "week", "Month": "month", "Year": "year"}
MAX_DAYS = 36_500
MAX_COUNT = 3_650

_FIELDS = ("name", "description", "unit", "precision", "currency", "price_per_unit", "expires_after_days",
           "rollover_enabled", "rollover_percentage", "rollover_timeframe_count", "rollover_timeframe_interval",
           "max_rollover_count", "overage_enabled", "overage_limit", "overage_behavior",
           "low_balance_threshold_percent", "covers_policy_usage")
UPDATABLE = tuple(f for f in _FIELDS if f != "precision")


@dataclass(frozen=True)
class CreditEntitlement:
    id: str
    environment: str
    name: str
    unit: str
    precision: int
    description: str | None = None
    currency: str | None = None
    price_per_unit: Decimal | None = None  # major units of ``currency``, per credit
    expires_after_days: int | None = None
    rollover_enabled: bool = False
    rollover_percentage: int | None = None  # None: 100 % when rollover is enabled
    rollover_timeframe_count: int | None = None
    rollover_timeframe_interval: str | None = None  # Day | Week | Month | Year
    max_rollover_count: int | None = None  # None: no limit
    overage_enabled: bool = False
    overage_limit: Decimal | None = None  # None: unlimited overage (when enabled)
    overage_behavior: str = FORGIVE_AT_RESET
    low_balance_threshold_percent: int | None = None
    covers_policy_usage: bool = False
    created_at: int = 0
    updated_at: int = 0
    deleted_at: int | None = None

    def amount_text(self, amount: Decimal) -> str:
        return text(amount, self.precision)

    def to_dict(self) -> dict[str, Any]:
        """The native shape: amounts at the precision, price in major units, instants as µs → see API."""
        out = asdict(self)
        out["price_per_unit"] = None if self.price_per_unit is None else decimal_text(self.price_per_unit)
        out["overage_limit"] = None if self.overage_limit is None else self.amount_text(self.overage_limit)
        out.pop("environment")
        return out


def _text_field(raw: dict, key: str, *, required: bool, max_len: int) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise ValidationError(f"{key} is required", key)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} must be a non-empty string", key)
    if len(value) > max_len:
        raise ValidationError(f"{key} must be at most {max_len} characters", key)
    if "\x00" in value:
        raise ValidationError(f"{key} must not contain NUL characters", key)
    return value


def _int_field(raw: dict, key: str, lo: int, hi: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValidationError(f"{key} must be an integer from {lo} to {hi}", key)
    return value


def _bool_field(raw: dict, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be true or false", key)
    return value


def _interval(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        for name in TIME_INTERVALS:
            if value.strip().lower() == name.lower():
                return name
    raise ValidationError(f"rollover_timeframe_interval must be one of {', '.join(TIME_INTERVALS)}",
                          "rollover_timeframe_interval")


def _fields(raw: dict, precision: int, *, creating: bool) -> dict[str, Any]:
    """The validated values of the fields present in ``raw`` (all of them when ``creating``)."""
    out: dict[str, Any] = {}
    present = set(_FIELDS) if creating else set(raw)
    if "name" in present:
        out["name"] = _text_field(raw, "name", required=True, max_len=255)
    if "unit" in present:
        out["unit"] = _text_field(raw, "unit", required=True, max_len=50)
    if "description" in present:
        out["description"] = _text_field(raw, "description", required=False, max_len=1000)
    if "currency" in present:
        currency = raw.get("currency")
        if currency is not None:
            currency_exponent(currency)  # 422 naming the field for an unknown code
            currency = currency.upper()
        out["currency"] = currency
    if "price_per_unit" in present:
        price = raw.get("price_per_unit")
        out["price_per_unit"] = None if price is None else to_decimal(price, "price_per_unit")
    if "expires_after_days" in present:
        out["expires_after_days"] = _int_field(raw, "expires_after_days", 1, MAX_DAYS)
    for key, default in (("rollover_enabled", False), ("overage_enabled", False), ("covers_policy_usage", False)):
        if key in present:
            out[key] = _bool_field(raw, key, default)
    for key, hi in (("rollover_percentage", 100), ("low_balance_threshold_percent", 100)):
        if key in present:
            out[key] = _int_field(raw, key, 0, hi)
    if "rollover_timeframe_count" in present:
        out["rollover_timeframe_count"] = _int_field(raw, "rollover_timeframe_count", 1, MAX_COUNT)
    if "rollover_timeframe_interval" in present:
        out["rollover_timeframe_interval"] = _interval(raw.get("rollover_timeframe_interval"))
    if "max_rollover_count" in present:
        out["max_rollover_count"] = _int_field(raw, "max_rollover_count", 0, MAX_COUNT)
    if "overage_limit" in present:
        limit = raw.get("overage_limit")
        out["overage_limit"] = None if limit is None else parse_amount(limit, precision, "overage_limit",
                                                                       allow_zero=True)
    if "overage_behavior" in present:
        behavior = raw.get("overage_behavior")
        if behavior is None:
            behavior = FORGIVE_AT_RESET
        if behavior not in OVERAGE_BEHAVIORS:
            raise ValidationError(f"overage_behavior must be one of {', '.join(OVERAGE_BEHAVIORS)}",
                                  "overage_behavior")
        out["overage_behavior"] = behavior
    return out


def _check_merged(e: CreditEntitlement) -> CreditEntitlement:
    if e.price_per_unit is not None and e.currency is None:
        raise ValidationError("currency is required when price_per_unit is set", "currency")
    if e.overage_enabled and e.price_per_unit is None:
        raise ValidationError("price_per_unit is required when overage_enabled is true", "price_per_unit")
    if e.covers_policy_usage and (e.price_per_unit is None or e.price_per_unit <= 0):
        raise ValidationError("price_per_unit (money per credit, 1 for a fiat credit) and currency are required "
                              "when covers_policy_usage is true", "price_per_unit")
    if (e.rollover_timeframe_count is None) != (e.rollover_timeframe_interval is None):
        missing = "rollover_timeframe_interval" if e.rollover_timeframe_interval is None else "rollover_timeframe_count"
        raise ValidationError("rollover_timeframe_count and rollover_timeframe_interval go together", missing)
    return e


def _object(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError("body must be a JSON object", "body")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    return raw


def parse_entitlement(raw: Any, *, id: str, environment: str, now: int) -> CreditEntitlement:
    """A validated new entitlement from a create body (see the module docstring for the rules)."""
    raw = _object(raw)
    precision = _int_field(raw, "precision", 0, 10)
    if precision is None:
        raise ValidationError("precision is required: an integer from 0 to 10 (decimal places)", "precision")
    values = _fields(raw, precision, creating=True)
    return _check_merged(CreditEntitlement(id=id, environment=environment, precision=precision, created_at=now,
                                     updated_at=now, **values))


def apply_update(current: CreditEntitlement, raw: Any, now: int) -> CreditEntitlement:
    """``current`` with the fields present in ``raw`` changed (``null`` clears); precision is immutable."""
    raw = _object(raw)
    if "precision" in raw and raw["precision"] != current.precision:
        raise ValidationError("precision cannot change after creation (existing grants depend on it)", "precision")
    values = _fields({k: v for k, v in raw.items() if k != "precision"}, current.precision, creating=False)
    for key in ("name", "unit"):
        if key in values and values[key] is None:
            raise ValidationError(f"{key} cannot be null", key)
    if "overage_limit" in values and values["overage_limit"] is not None:
        values["overage_limit"] = at_precision(values["overage_limit"], current.precision)
    return _check_merged(replace(current, updated_at=now, **values))
