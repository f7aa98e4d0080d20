"""Seed 004's flows through PolicyService, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from meterbase.errors import NotFound
from meterbase.policy.service import PolicyService

D = Decimal


def test_seed_policy_yaml_loads_unchanged_and_is_stored_verbatim(svc, seed_text):
    doc = svc.get_policy()
    assert doc.version == 1 and doc.format == "yaml"
    assert doc.source == seed_text  # byte-for-byte, comments included
    assert set(doc.policy.plans) == {"free", "pro", "enterprise"}
    assert doc.policy.default_plan.name == "free"
    again = svc.set_policy(seed_text)
    assert (again.version, again.created) == (1, False)


def test_free_plan_hard_one_gpu_hour_refuses_3601_accepts_3600(svc, recorder):
    svc.ensure_customer("cus_free")  # default plan: free
    assert svc.check("cus_free", "gpu_access")
    assert not svc.check("cus_free", "gpu_compute", 3601)
    assert svc.check("cus_free", "gpu_compute", 3600)
    assert svc.check("cus_free", "gpu_compute", "1hr")
    assert svc.remaining("cus_free", "gpu_compute") == D(3600)

    refused = svc.allow("cus_free", "gpu_compute", 3601)
    assert (refused.allowed, refused.reason, refused.consumed, refused.event_id) == (False, "limit_exceeded", 0, None)
    assert svc.value("cus_free", "gpu_compute") == 0  # a refusal consumes nothing
    [reached] = recorder.of("limit-reached")
    assert reached["customer"] == {"id": "cus_free"} and reached["amount"] == "3601" and reached["limit"] == "3600"

    ok = svc.allow("cus_free", "gpu_compute", 3600)
    assert ok.allowed and ok.consumed == 3600 and ok.remaining == 0 and ok.event_id
    assert svc.remaining("cus_free", "gpu_compute") == 0
    assert svc.value("cus_free", "gpu_compute", percent=True) == 100
    assert not svc.check("cus_free", "gpu_compute")  # nothing left
    assert not svc.allow("cus_free", "gpu_compute", "1s")
    assert svc.value("cus_free", "gpu_compute") == 3600


def test_pro_plan_soft_ten_hours_passes_36000_and_reports_overage(svc, recorder):
    svc.ensure_customer("cus_pro", "pro")
    first = svc.allow("cus_pro", "gpu_compute", 35000)
    assert first.allowed and first.overage == 0 and recorder.of("meter-overage") == []
    second = svc.allow("cus_pro", "gpu_compute", "2000s")
    assert second.allowed and second.consumed == 2000 and second.overage == 1000
    assert svc.value("cus_pro", "gpu_compute") == 37000  # usage passed 36000
    assert svc.remaining("cus_pro", "gpu_compute") == 0
    assert svc.limit("cus_pro", "gpu_compute") == 36000
    third = svc.allow("cus_pro", "gpu_compute", 500)
    assert third.overage == 500
    overages = recorder.of("meter-overage")
    assert [o["overage"] for o in overages] == ["1000", "500"]
    assert overages[0] == {
        "customer": {"id": "cus_pro"},
        "entitlement": "gpu_compute",
        "credit": {"name": "gpu_second", "description": "GPU compute time in seconds"},
        "used": "37000",
        "limit": "36000",
        "plan": "pro",
        "amount": "2000",
        "remaining": "0",
        # Limitr's tier position: the 1000 s past 10 hr are the first billable units, $0.0004 each
        "price_diff": "0.4",
        "overhead_cost": "0.56",  # 2000 s × $0.00028
        "meter": {"old": "35000", "value": "37000", "limit": "36000", "diff": "2000", "price_diff": "0.4",
                  "overhead_diff": "0.56"},
        "overage": "1000",
        "overage_price": "0.4",
        "covered": "0",
    }
    assert (third.price_diff, third.overage_price) == (D("0.2"), D("0.2"))  # 500 more from billable position 1000
    status = svc.status("cus_pro", "gpu_compute")
    assert (status.used, status.overage, status.mode) == (D(37500), D(1500), "soft")


def test_video_transcode_denied_on_free_limited_to_two_hours_on_pro(svc):
    svc.ensure_customer("cus_free", "free")
    assert not svc.check("cus_free", "video_access")
    denied = svc.check("cus_free", "video_transcode", 60)
    assert (denied.allowed, denied.reason) == (False, "not_in_plan")
    assert not svc.allow("cus_free", "video_transcode", 60)
    assert svc.remaining("cus_free", "video_transcode") is None
    assert svc.limit("cus_free", "video_transcode") is None

    svc.ensure_customer("cus_pro", "pro")
    assert svc.check("cus_pro", "video_access")
    assert svc.limit("cus_pro", "video_transcode") == 7200
    assert not svc.check("cus_pro", "video_transcode", "121min")
    assert svc.allow("cus_pro", "video_transcode", "90min").allowed
    assert not svc.allow("cus_pro", "video_transcode", "31min")
    assert svc.allow("cus_pro", "video_transcode", "30min").allowed
    assert svc.remaining("cus_pro", "video_transcode") == 0


def test_counters_reset_after_30_days_from_the_customer_anchor(svc, clock, recorder):
    customer = svc.ensure_customer("cus_free")
    assert customer.anchor == clock.now
    assert svc.allow("cus_free", "gpu_compute", 3600).allowed
    assert not svc.check("cus_free", "gpu_compute", 1)

    clock.advance(days=30, seconds=-1)  # still the first period
    assert svc.remaining("cus_free", "gpu_compute") == 0
    clock.advance(seconds=1)  # exactly 30 days after the anchor: a new period
    assert svc.remaining("cus_free", "gpu_compute") == 3600  # no cron: computed from the anchor
    assert svc.value("cus_free", "gpu_compute") == 0
    assert recorder.of("reset") == []  # lazily fired by the first write of the new period
    out = svc.allow("cus_free", "gpu_compute", 100)
    assert out.allowed and out.period_start == customer.anchor + timedelta(days=30)
    assert out.period_end == customer.anchor + timedelta(days=60)
    [reset] = recorder.of("reset")
    assert reset["used"] == "3600" and reset["limit"] == "3600"
    assert reset["period_start"] == "2025-01-01T12:00:00Z" and reset["period_end"] == "2025-01-31T12:00:00Z"
    svc.allow("cus_free", "gpu_compute", 100)
    assert len(recorder.of("reset")) == 1  # once per new period

    clock.advance(days=95)  # several periods skipped: still exactly one reset, of the last counter
    assert svc.remaining("cus_free", "gpu_compute") == 3600
    svc.allow("cus_free", "gpu_compute", 1)
    assert recorder.of("reset")[-1]["used"] == "200"
    assert len(recorder.of("reset")) == 2


def test_allow_records_a_usage_event_seen_by_a_meter(svc, backend_store, env, clock):
    store = backend_store
    meter = store.create_meter(env, {"name": "GPU", "event_name": "gpu_second", "measurement_unit": "s",
                                     "aggregation": {"type": "sum", "key": "amount"}})
    svc.ensure_customer("cus_pro", "pro")
    svc.allow("cus_pro", "gpu_compute", 36000)
    out = svc.allow("cus_pro", "gpu_compute", "1.5hr")
    svc.allow("cus_pro", "video_transcode", 60)  # another credit: another event name
    ev = store.get_event(env, out.event_id)
    assert ev["event_name"] == "gpu_second" and ev["customer_id"] == "cus_pro"
    # 5400 s from billable position 0: 3600 × $0.0004 + 1800 × $0.00035 = 2.07; cost 5400 × $0.00028 = 1.512
    assert ev["metadata"] == {"entitlement": "gpu_compute", "amount": "5400", "overage": "5400", "plan": "pro",
                              "price_diff": "2.07", "overage_price": "2.07", "overhead_cost": "1.512"}
    start, end = store.now() - 3_600_000_000, store.now() + 1
    assert store.meter_total(env, meter.id, "cus_pro", start, end).sum == D(41400)
    # a meter created afterwards is backfilled from the same events
    overage = store.create_meter(env, {"name": "GPU overage", "event_name": "gpu_second", "measurement_unit": "s",
                                       "aggregation": {"type": "sum", "key": "overage"}})
    assert store.meter_total(env, overage.id, "cus_pro", start, end).sum == D(5400)
    assert svc.value("cus_pro", "gpu_compute") == D(41400)


def test_idempotency_key_replays_the_first_decision_without_consuming(svc, backend_store, env):
    from meterbase.errors import Conflict

    svc.ensure_customer("cus_free")
    first = svc.allow("cus_free", "gpu_compute", 1000, idempotency_key="job-1")
    again = svc.allow("cus_free", "gpu_compute", 1000, idempotency_key="job-1")
    assert again.replayed and not first.replayed
    assert again.to_dict() | {"replayed": False} == first.to_dict()
    assert svc.value("cus_free", "gpu_compute") == 1000
    assert backend_store.count_events(env) == 1
    with pytest.raises(Conflict) as exc:
        svc.allow("cus_free", "gpu_compute", 999, idempotency_key="job-1")
    assert exc.value.field == "idempotency_key"
    refused = svc.allow("cus_free", "gpu_compute", 5000, idempotency_key="job-2")
    assert not refused and svc.allow("cus_free", "gpu_compute", 5000, idempotency_key="job-2").reason == "limit_exceeded"


def test_webhooks_are_queued_in_the_outbox_with_the_decision(svc, backend_store, env, clock):
    from sqlalchemy import select

    from meterbase.storage.schema import webhook_endpoints, webhook_outbox

    with backend_store.write() as conn:
        conn.execute(webhook_endpoints.insert().values(
            id="we_1", environment=env, url="http://example.invalid/hook", secret="s", event_types="[]",
            disabled=False, created_at=0))
    svc.ensure_customer("cus_pro", "pro")
    svc.allow("cus_pro", "gpu_compute", 36001)
    svc.ensure_customer("cus_free")
    svc.allow("cus_free", "gpu_compute", 3601)
    svc.allow("cus_free", "gpu_compute", 1)
    clock.advance(days=31)
    svc.allow("cus_free", "gpu_compute", 1)
    with backend_store.read() as conn:
        rows = conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)
                            .where(webhook_outbox.c.environment == env).order_by(webhook_outbox.c.created_at)).all()
    types = [t for t, _ in rows]
    assert types[:3] == ["policy.meter-overage", "policy.limit-reached", "policy.meter-changed"]
    assert sorted(types[3:]) == ["policy.meter-changed", "policy.reset"]  # one transaction, one created_at
    import json

    body = json.loads(rows[0][1])
    assert body["type"] == "policy.meter-overage" and body["data"]["overage"] == "1"
    assert (body["data"]["price_diff"], body["data"]["overage_price"]) == ("0.0004", "0.0004")


def test_handlers_run_after_commit_and_a_failing_handler_changes_nothing(svc, recorder):
    seen = []

    def boom(key, value):
        seen.append(svc.value("cus_pro", "gpu_compute"))  # committed state is visible to the handler
        raise RuntimeError("handler bug")

    svc.add_handler("boom", boom)
    svc.ensure_customer("cus_pro", "pro")
    out = svc.allow("cus_pro", "gpu_compute", 36010)
    assert out.allowed and seen == [D(36010)] and len(recorder.of("meter-overage")) == 1
    svc.remove_handler("boom")
    svc.allow("cus_pro", "gpu_compute", 1)
    assert seen == [D(36010)]


def test_set_plan_keeps_the_period_usage_unless_the_anchor_resets(svc, clock):
    svc.ensure_customer("cus_x")
    svc.allow("cus_x", "gpu_compute", 3000)
    assert svc.ensure_customer("cus_x", "pro").plan == "free"  # ensure never changes an existing customer
    moved = svc.set_plan("cus_x", "pro")
    assert moved.plan == "pro" and svc.value("cus_x", "gpu_compute") == 3000
    assert svc.remaining("cus_x", "gpu_compute") == 33000
    clock.advance(days=3)
    fresh = svc.set_plan("cus_x", "enterprise", reset_anchor=True)
    assert fresh.anchor == clock.now and svc.value("cus_x", "gpu_compute") == 0
    assert svc.limit("cus_x", "gpu_compute") == 720000
    with pytest.raises(NotFound) as exc:
        svc.set_plan("cus_x", "platinum")
    assert exc.value.field == "plan"


def test_unknown_customer_and_missing_policy_are_not_found(backend_store, env, seed_text):
    bare = PolicyService(backend_store, environment=env)
    with pytest.raises(NotFound) as exc:
        bare.ensure_customer("cus_a")
    assert exc.value.field == "policy"
    bare.set_policy(seed_text)
    with pytest.raises(NotFound) as exc:
        bare.check("nobody", "gpu_access")
    assert exc.value.field == "customer_id"


def test_a_replaced_policy_is_picked_up_by_other_service_instances(svc, backend_store, env, seed_text):
    svc.ensure_customer("cus_free")
    other = PolicyService(backend_store, environment=env)  # follows the stored document
    assert other.limit("cus_free", "gpu_compute") == 3600
    v2 = svc.set_policy(seed_text.replace("value: '1hr'", "value: '2hr'"))
    assert v2.version == 2 and v2.created
    assert other.limit("cus_free", "gpu_compute") == 7200
    assert other.allow("cus_free", "gpu_compute", 3601).policy_version == 2


def test_pinned_policy_object_is_used_as_given(backend_store, env, seed_text):
    from meterbase.policy import load_policy

    pinned = PolicyService(backend_store, load_policy(seed_text), environment=env)
    pinned.ensure_customer("cus_a", "pro")
    assert pinned.allow("cus_a", "gpu_compute", 10).policy_version is None
    with pytest.raises(NotFound):
        PolicyService(backend_store, environment=env).get_policy()  # nothing was stored


def test_soft_limit_overage_becomes_an_invoice_line_priced_by_the_credit(svc, clock):
    svc.ensure_customer("cus_pro", "pro")
    svc.allow("cus_pro", "gpu_compute", 36000)
    svc.allow("cus_pro", "gpu_compute", 1800)  # 0.5 GPU-hour past 10 hr: billable units 0..1800, first tier
    [line] = svc.overage_lines("cus_pro", clock.now - timedelta(days=1), clock.now + timedelta(days=1))
    assert (line.entitlement, line.credit, line.used, line.overage) == ("gpu_compute", "gpu_second", 37800, 1800)
    assert line.line.amount == D("0.72") and line.line.currency == "USD"  # 1800 × $0.0004
    assert line.period_start == clock.now and line.period_end == clock.now + timedelta(days=30)


def test_overage_below_a_tier_boundary_is_priced_across_tiers(backend_store, env, seed_text, clock):
    text = seed_text.replace("value: '10hr'", "value: '30min'")
    svc = PolicyService(backend_store, text, environment=env)
    svc.ensure_customer("cus_pro", "pro")
    svc.allow("cus_pro", "gpu_compute", 5400)  # overage 3600 s: billable positions 0..3600, the first tier
    svc.allow("cus_pro", "gpu_compute", 1000)  # 1000 more from billable position 3600: the second tier
    [line] = svc.overage_lines("cus_pro", clock.now, clock.now + timedelta(days=1))
    # 3600 s × $0.0004 + 1000 s × $0.00035 = 1.44 + 0.35
    assert line.overage == 4600 and line.line.amount == D("1.79") and line.line.quantity == 4600


def test_dashboard_provider_lists_the_customers_limited_entitlements(svc, backend_store, env):
    from meterbase.dashboard import providers

    svc.ensure_customer("cus_pro", "pro")
    svc.allow("cus_pro", "gpu_compute", "11hr")
    rows = providers.entitlements(backend_store, env, "cus_pro")
    assert [r["name"] for r in rows] == ["gpu_compute", "video_transcode"]
    gpu = rows[0]
    assert (gpu["used"], gpu["limit"], gpu["remaining"], gpu["unit"], gpu["overage"]) == ("39600", "36000", "0", "s", "3600")
    assert gpu["resets_at"] == "2025-01-31T12:00:00Z"
    assert providers.entitlements(backend_store, env, "nobody") == []
    assert providers.entitlements(backend_store, "t_no_policy", "cus_pro") == []
