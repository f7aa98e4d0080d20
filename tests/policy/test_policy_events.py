"""Event payloads: the shapes handlers receive for meter-overage, meter-changed, limit-reached and reset."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from meterbase.policy import LIMIT_REACHED, METER_CHANGED, METER_OVERAGE, RESET, Policy, Reset, allow


def test_meter_overage_payload(policy: Policy) -> None:
    decision = allow(policy.entitlement("pro", "gpu_compute"), 35000, "2000s", customer_id="cus_42")
    (event,) = decision.events
    assert event.name == METER_OVERAGE == "meter-overage"
    assert event.payload() == {
        "customer": {"id": "cus_42"},
        "entitlement": "gpu_compute",
        "credit": {"name": "gpu_second", "description": "GPU compute time in seconds"},
        "used": Decimal(37000),
        "limit": Decimal(36000),
        "plan": None,
        "amount": Decimal(2000),
        "remaining": Decimal(0),
        # 1000 s past the limit, from billable position 0: the first tier's $0.0004
        "price_diff": Decimal("0.4"),
        "overhead_cost": Decimal("0.56"),  # 2000 s × $0.00028
        "meter": {"old": Decimal(35000), "value": Decimal(37000), "limit": Decimal(36000), "diff": Decimal(2000),
                  "price_diff": Decimal("0.4"), "overhead_diff": Decimal("0.56")},
        "overage": Decimal(1000),
        "overage_price": Decimal("0.4"),
        "covered": Decimal(0),
    }


def test_meter_changed_payload_for_a_refund(policy: Policy) -> None:
    decision = allow(policy.entitlement("pro", "gpu_compute"), 37000, "-1500s", customer_id="cus_42", plan="pro")
    (event,) = decision.events
    assert event.name == METER_CHANGED
    payload = event.payload()
    assert (payload["plan"], payload["amount"], payload["used"]) == ("pro", Decimal(-1500), Decimal(35500))
    # 1000 billable seconds undone at the first tier: -$0.40; the refunded cost -1500 × $0.00028
    assert (payload["price_diff"], payload["overhead_cost"]) == (Decimal("-0.4"), Decimal("-0.42"))
    assert payload["meter"]["old"] == Decimal(37000)


def test_limit_reached_payload(policy: Policy) -> None:
    decision = allow(policy.entitlement("pro", "video_transcode"), 7000, 500, customer_id="cus_7")
    (event,) = decision.events
    assert event.name == LIMIT_REACHED
    assert event.payload() == {
        "customer": {"id": "cus_7"},
        "entitlement": "video_transcode",
        "credit": {"name": "video_second", "description": "Video transcoding time in seconds"},
        "used": Decimal(7000),
        "limit": Decimal(7200),
        "plan": None,
        "amount": Decimal(500),
        "remaining": Decimal(200),
        "price_diff": Decimal("0.0075"),  # what it would have been worth: 300 s past the limit × $0.000025
        "overhead_cost": Decimal("0.0075"),  # 500 × $0.000015
        "meter": {"old": Decimal(7000), "value": Decimal(7000), "limit": Decimal(7200), "diff": Decimal(500),
                  "price_diff": Decimal("0.0075"), "overhead_diff": Decimal("0.0075"), "invalid": Decimal(7500)},
    }


def test_reset_payload(policy: Policy) -> None:
    credit = policy.credits["gpu_second"]
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    end = datetime(2025, 1, 31, tzinfo=timezone.utc)
    event = Reset("cus_1", "gpu_compute", credit, Decimal(1234), Decimal(3600), start, end)
    assert event.name == RESET
    assert event.payload()["period_start"] == "2025-01-01T00:00:00Z"
    assert event.payload()["period_end"] == "2025-01-31T00:00:00Z"
    assert event.payload()["used"] == Decimal(1234)
