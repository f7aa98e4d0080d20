"""Event payloads: the shapes handlers receive for meter-overage, limit-reached and reset."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from meterbase.policy import LIMIT_REACHED, METER_OVERAGE, RESET, Policy, Reset, allow


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
        "amount": Decimal(2000),
        "overage": Decimal(1000),
    }


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
        "amount": Decimal(500),
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
