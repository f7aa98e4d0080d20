"""Decisions on the seed policy: pre-flight checks, hard refusals, soft overage and plan access."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbase.errors import ValidationError
from meterbase.policy import (
    Decision,
    Entitlement,
    LimitReached,
    MeterChanged,
    MeterOverage,
    Policy,
    allow,
    check,
    limit,
    overage_between,
    remaining,
    value,
)


@pytest.fixture
def free_gpu(policy: Policy) -> Entitlement:
    ent = policy.entitlement("free", "gpu_compute")
    assert ent is not None
    return ent


@pytest.fixture
def pro_gpu(policy: Policy) -> Entitlement:
    ent = policy.entitlement("pro", "gpu_compute")
    assert ent is not None
    return ent


def test_free_gpu_preflight(free_gpu: Entitlement) -> None:
    refused = check(free_gpu, 0, 3601)
    assert not refused.allowed and not refused
    assert refused.reason == "limit_exceeded"
    assert (refused.consumed, refused.remaining, refused.events) == (0, Decimal(3600), ())
    fits = check(free_gpu, 0, 3600)
    assert fits.allowed and fits.reason == "ok"
    assert fits.consumed == 0  # check is read-only
    assert check(free_gpu, 0, "1hr").allowed
    assert not check(free_gpu, 0, "61min").allowed
    assert check(free_gpu, 1800, "30min").allowed
    assert not check(free_gpu, 1800, "1801s").allowed


def test_free_gpu_hard_limit_consumes_nothing_when_refused(free_gpu: Entitlement) -> None:
    first = allow(free_gpu, 0, 3600, customer_id="cus_1")
    assert (first.allowed, first.consumed, first.used_after, first.overage) == (True, Decimal(3600), Decimal(3600), 0)
    assert [type(e) for e in first.events] == [MeterChanged]  # usage moved inside the limit: nothing billable
    assert (first.price_diff, first.overage_price, first.overhead_cost) == (0, 0, Decimal("1.008"))  # 3600 × $0.00028
    used = first.used_after
    assert remaining(free_gpu, used) == 0
    assert not check(free_gpu, used).allowed  # nothing left at all
    second = allow(free_gpu, used, 1, customer_id="cus_1")
    assert (second.allowed, second.reason, second.consumed, second.used_after) == (False, "limit_exceeded", 0, used)
    assert second.remaining == 0
    # a refused call reports what it would have been worth: 1 s past the limit at the first tier, $0.0004
    assert second.events == (
        LimitReached("cus_1", "gpu_compute", free_gpu.limit.credit, Decimal(3600), Decimal(3600), old=Decimal(3600),  # type: ignore[union-attr]
                     amount=Decimal(1), price_diff=Decimal("0.0004"), overhead_cost=Decimal("0.00028")),
    )
    assert (second.price_diff, second.overage_price) == (Decimal("0.0004"), 0)
    assert allow(free_gpu, used, 0).allowed  # zero always fits


def test_pro_gpu_soft_limit_reports_overage(pro_gpu: Entitlement) -> None:
    assert limit(pro_gpu) == Decimal(36000)
    decision = allow(pro_gpu, 35000, 2000, customer_id="cus_pro")
    assert (decision.allowed, decision.consumed, decision.used_after) == (True, Decimal(2000), Decimal(37000))
    assert decision.overage == Decimal(1000)
    assert decision.remaining == 0
    (event,) = decision.events
    assert isinstance(event, MeterOverage)
    assert (event.used, event.limit, event.amount, event.overage) == (37000, 36000, 2000, 1000)
    # Limitr's positions: the 1000 s past the limit are the first billable units, $0.0004 each
    assert (event.price_diff, event.overage_price) == (Decimal("0.4"), Decimal("0.4")) == (decision.price_diff, decision.overage_price)
    # already past the limit: all of the next amount is overage
    later = allow(pro_gpu, decision.used_after, "1hr", customer_id="cus_pro")
    assert (later.allowed, later.overage, later.used_after) == (True, Decimal(3600), Decimal(40600))
    # below the limit: no overage, no event
    inside = allow(pro_gpu, 0, "10hr")
    assert (inside.overage, inside.remaining, inside.price_diff) == (0, 0, 0)
    assert [type(e) for e in inside.events] == [MeterChanged]


def test_soft_check_allows_and_predicts_overage(pro_gpu: Entitlement) -> None:
    decision = check(pro_gpu, 35000, 2000)
    assert decision.allowed and decision.overage == Decimal(1000)
    assert (decision.consumed, decision.events) == (0, ())
    assert check(pro_gpu, 40000).allowed  # a soft limit never denies


def test_video_access_by_plan(policy: Policy) -> None:
    assert not check(policy.entitlement("free", "video_access"))
    assert policy.entitlement("free", "video_transcode") is None
    denied = allow(policy.entitlement("free", "video_transcode"), 0, 10, customer_id="cus_free")
    assert (denied.allowed, denied.reason, denied.consumed, denied.events) == (False, "not_in_plan", 0, ())
    assert remaining(None, 0) is None and value(None, 0) is None and limit(None) is None

    assert check(policy.entitlement("pro", "video_access")).allowed
    transcode = policy.entitlement("pro", "video_transcode")
    assert transcode is not None and transcode.limit is not None
    assert (transcode.limit.mode, limit(transcode)) == ("hard", Decimal(7200))
    assert check(transcode, 0, "2hr").allowed
    assert not check(transcode, 0, "2hr").overage
    assert not allow(transcode, 7000, "201s").allowed
    assert allow(transcode, 7000, "200s").used_after == Decimal(7200)


def test_boolean_entitlement(policy: Policy) -> None:
    access = policy.entitlement("pro", "gpu_access")
    decision = check(access)
    assert decision == Decision(True, "ok", Decimal(0))
    assert (remaining(access, 0), limit(access), value(access, 5, percent=True)) == (None, None, None)
    assert allow(access, 2, 3).used_after == 5  # usage without a limit is still counted
    with pytest.raises(ValidationError, match="plain numbers"):
        allow(access, 0, "3s")


def test_remaining_value_and_percent(free_gpu: Entitlement, pro_gpu: Entitlement) -> None:
    assert remaining(free_gpu, 0) == Decimal(3600)
    assert remaining(free_gpu, 900) == Decimal(2700)
    assert remaining(pro_gpu, 40000) == 0
    assert value(free_gpu, 900) == Decimal(900)
    assert value(free_gpu, 900, percent=True) == Decimal(25)
    # Limitr: 100 - remaining percent, so capped at 100 past a soft limit (meterbase keeps 28 digits, not 1e-9)
    assert value(free_gpu, 1200, percent=True) == Decimal("33.33333333333333333333333333")
    assert value(pro_gpu, 45000, percent=True) == Decimal(100)


def test_unit_string_amounts(free_gpu: Entitlement) -> None:
    assert allow(free_gpu, 0, "1500ms").consumed == Decimal("1.5")
    assert check(free_gpu, 0, "90s").amount == Decimal(90)
    with pytest.raises(ValidationError) as info:
        allow(free_gpu, 0, "2GB")
    assert info.value.field == "amount"


@pytest.mark.parametrize(
    ("used", "amount", "field"),
    [(0, "1e30", "amount"), (0, "1e-31", "amount"), ("10s", 1, "used"), (0, 1.5, "amount"), (0, "ten", "amount")],
)
def test_invalid_inputs(free_gpu: Entitlement, used: object, amount: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        allow(free_gpu, used, amount)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("used", "after", "limit_", "expected"),
    [(0, 10, 20, 0), (15, 25, 20, 5), (20, 30, 20, 10), (25, 30, 20, 5), (35000, 37000, 36000, 1000)],
)
def test_overage_between(used: int, after: int, limit_: int, expected: int) -> None:
    assert overage_between(Decimal(used), Decimal(after), Decimal(limit_)) == expected
