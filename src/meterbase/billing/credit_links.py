"""How a product uses credits (pure): credits it issues each cycle, and meters that are paid with credits.

Dodo's shapes (``dodopayments`` 1.123: ``AttachCreditEntitlementParam``, ``AddMeterToPrice``):

* a product's ``credit_entitlements`` — up to :data:`MAX_ATTACHED` ``{credit_entitlement_id, credits_amount,
  trial_credits?, trial_credits_expire_after_trial?}``: every subscription to the product receives
  ``credits_amount`` × its quantity at the start of each billing cycle (the entitlement's rollover and
  expiry rules apply at each cycle end), and ``trial_credits`` once when it starts (expiring at the end of
  the first period when ``trial_credits_expire_after_trial``: meterbase has no trial period, the first
  period stands for it). The entitlement's own settings (rollover, overage, …) are the entitlement's:
  per-product overrides are refused.
* a priced meter's ``credit_entitlement_id`` + ``meter_units_per_credit``: the meter's usage is paid with
  credits — every ``meter_units_per_credit`` units deduct one credit as events arrive — so its invoice
  line is not charged at a price of its own (the credit's overage rules bill what credits did not cover).

Amounts are validated here as positive decimals; that they fit the entitlement's precision is checked
where the entitlement is known (``credits.products``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..pricing.decimals import text, to_decimal

MAX_ATTACHED = 5
_ATTACH_KEYS = {"credit_entitlement_id", "credits_amount", "trial_credits", "trial_credits_expire_after_trial"}
#: Dodo's per-product overrides of the entitlement's settings (refused by name: the entitlement decides).
_OVERRIDES = {"currency", "expires_after_days", "low_balance_threshold_percent", "max_rollover_count",
              "overage_behavior", "overage_enabled", "overage_limit", "price_per_unit", "proration_behavior",
              "rollover_enabled", "rollover_percentage", "rollover_timeframe_count", "rollover_timeframe_interval"}


@dataclass(frozen=True)
class CreditAttachment:
    """Credits a product issues to each subscription: per cycle, and once at the start (trial credits)."""

    entitlement_id: str
    credits_amount: Decimal
    trial_credits: Decimal | None = None
    trial_credits_expire_after_trial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"credit_entitlement_id": self.entitlement_id, "credits_amount": text(self.credits_amount),
                "trial_credits": None if self.trial_credits is None else text(self.trial_credits),
                "trial_credits_expire_after_trial": self.trial_credits_expire_after_trial}


@dataclass(frozen=True)
class MeterCredits:
    """A meter paid with credits: ``units_per_credit`` of its units deduct one credit of ``entitlement_id``."""

    entitlement_id: str
    units_per_credit: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"credit_entitlement_id": self.entitlement_id, "meter_units_per_credit": text(self.units_per_credit)}


def _entitlement_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise ValidationError("credit_entitlement_id must be a credit entitlement id (cde_…)", field)
    return value


def parse_attachments(raw: Any, field: str = "credit_entitlements") -> tuple[CreditAttachment, ...]:
    """A product's ``credit_entitlements`` list (None: none)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_ATTACHED:
        raise ValidationError(f"{field} must be a list of at most {MAX_ATTACHED}", field)
    out: list[CreditAttachment] = []
    for i, item in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ValidationError("each credit entitlement must be an object", where)
        overrides = sorted(k for k in item if k in _OVERRIDES and item[k] is not None)
        if overrides:
            raise ValidationError(f"{overrides[0]} is the credit entitlement's setting; change it there "
                                  "(per-product overrides are not supported)", f"{where}.{overrides[0]}")
        unknown = sorted(set(item) - _ATTACH_KEYS - _OVERRIDES)
        if unknown:
            raise ValidationError(f"unknown field(s): {', '.join(unknown)}", f"{where}.{unknown[0]}")
        ent = _entitlement_id(item.get("credit_entitlement_id"), f"{where}.credit_entitlement_id")
        if any(a.entitlement_id == ent for a in out):
            raise ValidationError(f"credit entitlement {ent!r} is attached twice", f"{where}.credit_entitlement_id")
        if item.get("credits_amount") is None:
            raise ValidationError("credits_amount is required (credits per billing cycle)", f"{where}.credits_amount")
        amount = to_decimal(item["credits_amount"], f"{where}.credits_amount", positive=True, integer_digits=10,
                            places=10)
        trial = item.get("trial_credits")
        trial_amount = None if trial is None else to_decimal(trial, f"{where}.trial_credits", positive=True,
                                                             integer_digits=10, places=10)
        expire = item.get("trial_credits_expire_after_trial", False)
        if not isinstance(expire, bool):
            raise ValidationError("trial_credits_expire_after_trial must be true or false",
                                  f"{where}.trial_credits_expire_after_trial")
        out.append(CreditAttachment(ent, amount, trial_amount, expire))
    return tuple(out)


def parse_meter_credits(raw: dict, where: str) -> MeterCredits | None:
    """The ``credit_entitlement_id`` + ``meter_units_per_credit`` of a product's meter line (None: not linked)."""
    ent, per = raw.get("credit_entitlement_id"), raw.get("meter_units_per_credit")
    if ent is None:
        if per is not None:
            raise ValidationError("meter_units_per_credit needs a credit_entitlement_id", f"{where}.credit_entitlement_id")
        return None
    ent = _entitlement_id(ent, f"{where}.credit_entitlement_id")
    if per is None:
        raise ValidationError("meter_units_per_credit is required with credit_entitlement_id (meter units that "
                              "make one credit)", f"{where}.meter_units_per_credit")
    return MeterCredits(ent, to_decimal(per, f"{where}.meter_units_per_credit", positive=True))


def attachments_from_stored(raw: list[dict] | None) -> tuple[CreditAttachment, ...]:
    return tuple(CreditAttachment(d["credit_entitlement_id"], Decimal(d["credits_amount"]),
                                  None if d.get("trial_credits") is None else Decimal(d["trial_credits"]),
                                  bool(d.get("trial_credits_expire_after_trial")))
                 for d in raw or ())


def meter_credits_from_stored(d: dict) -> MeterCredits | None:
    if d.get("credit_entitlement_id") is None:
        return None
    return MeterCredits(d["credit_entitlement_id"], Decimal(d["meter_units_per_credit"]))
