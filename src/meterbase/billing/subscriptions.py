"""Validation of customer and subscription requests, and of usage thresholds (pure).

Subscription body (native)::

    {"customer_id": "cus_1", "product_id": "prd_…", "start": "2025-01-15T00:00:00Z",
     "anchor_day": 1, "quantity": 1, "thresholds": [{"meter_id": "mtr_…", "quantity": "10000"},
     {"amount": "100.00"}], "metadata": {}}

``start`` defaults to now; ``anchor_day`` (1–31, monthly plans) aligns periods to a day of the
month, the first period being a prorated stub. The billing period itself is the product's;
``grace_period_hours`` overrides the product's grace period (``billing.grace``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import ValidationError
from ..pricing.decimals import text, to_decimal
from ..timeutil import parse_instant, to_us
from .grace import parse_grace_hours

_SUB_KEYS = {"customer_id", "product_id", "start", "anchor_day", "quantity", "thresholds", "metadata", "billing",
             "grace_period_hours"}
_CUSTOMER_KEYS = {"id", "customer_id", "email", "name", "phone_number", "metadata"}
MAX_THRESHOLDS = 20


def _unknown(raw: dict, allowed: set[str]) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])


def _string(raw: dict, key: str, required: bool = True, limit: int = 255) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError(f"{key} must be a non-empty string of at most {limit} characters", key)
    return value


def _metadata(raw: dict) -> dict:
    meta = raw.get("metadata")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict) or any(not isinstance(v, (str, int, float, bool)) for v in meta.values()):
        raise ValidationError("metadata must be an object of strings, numbers or booleans", "metadata")
    return meta


def parse_customer(raw: Any) -> dict:
    """``{"email", "name"}`` required; ``id`` (the customer_id events carry) optional, generated if absent."""
    if not isinstance(raw, dict):
        raise ValidationError("customer must be an object", "body")
    _unknown(raw, _CUSTOMER_KEYS)
    email = _string(raw, "email")
    if "@" not in email:
        raise ValidationError("email must be an email address", "email")
    cid = raw.get("id", raw.get("customer_id"))
    if cid is not None and (not isinstance(cid, str) or not cid.strip() or len(cid) > 255):
        raise ValidationError("id must be a non-empty string of at most 255 characters", "id")
    return {"id": cid, "email": email, "name": _string(raw, "name"),
            "phone_number": _string(raw, "phone_number", False, 64), "metadata": _metadata(raw)}


def parse_thresholds(raw: Any) -> list[dict]:
    """Usage thresholds: ``{"meter_id", "quantity"}`` (meter value) or ``{"amount"}`` (period total so far)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_THRESHOLDS:
        raise ValidationError(f"thresholds must be a list of at most {MAX_THRESHOLDS}", "thresholds")
    out = []
    for i, t in enumerate(raw):
        where = f"thresholds[{i}]"
        if isinstance(t, dict) and set(t) == {"amount"}:
            out.append({"amount": text(to_decimal(t["amount"], f"{where}.amount", positive=True))})
        elif isinstance(t, dict) and set(t) == {"meter_id", "quantity"} and isinstance(t["meter_id"], str):
            out.append({"meter_id": t["meter_id"],
                        "quantity": text(to_decimal(t["quantity"], f"{where}.quantity", positive=True))})
        else:
            raise ValidationError('a threshold is {"meter_id", "quantity"} or {"amount"}', where)
    return out


def parse_subscription(raw: Any, now: datetime) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError("subscription must be an object", "body")
    _unknown(raw, _SUB_KEYS)
    start = raw.get("start")
    try:
        start_dt = now if start is None else parse_instant(start)
    except (TypeError, ValueError, AttributeError):
        raise ValidationError(f"start must be an ISO-8601 instant, got {start!r}", "start") from None
    quantity = raw.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1_000_000:
        raise ValidationError("quantity must be an integer from 1 to 1000000", "quantity")
    billing = raw.get("billing")
    billing = {} if billing is None else billing
    if not isinstance(billing, dict):
        raise ValidationError("billing must be an object", "billing")
    return {
        "customer_id": _string(raw, "customer_id"), "product_id": _string(raw, "product_id"),
        "start_at": to_us(start_dt), "anchor_day": raw.get("anchor_day"), "quantity": quantity,
        "thresholds": parse_thresholds(raw.get("thresholds")), "metadata": _metadata(raw), "billing": billing,
        "grace_period_hours": parse_grace_hours(raw.get("grace_period_hours")),
    }
