"""SessionService on SQLite and PostgreSQL with an injectable clock: start, heartbeat, stop, pre-start, reap, display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbase.errors import Conflict, NotFound, ValidationError
from meterbase.sessions import NO_ACCESS, QUOTA_EXHAUSTED, SessionNotRunning
from meterbase.sessions.service import idempotency_key

from .conftest import ENV, gpu_events

D = Decimal


def test_start_heartbeat_stop_meters_ceil_duration_once(sessions, policy, store, clock):
    started = sessions.start("cus_a", "s1", plan="pro")
    assert started.ok and not started.replayed and started.code is None
    assert started.remaining == D(36000) and started.session.status == "running"
    clock.advance(seconds=10)
    beat = sessions.heartbeat("s1")
    assert beat.heartbeats == 1 and beat.last_seen_at - beat.started_at == 10_000_000
    clock.advance(seconds=20, milliseconds=300)  # 30.3 s in all -> 31 billable seconds
    stopped = sessions.stop("s1")
    assert not stopped.replayed
    assert stopped.duration_seconds == 31 and stopped.charged == D(31)
    assert stopped.session.status == "stopped" and stopped.session.stop_reason == "stopped"
    assert stopped.session.outcome_reason == "ok" and stopped.remaining == D(36000 - 31)
    assert policy.value("cus_a", "gpu_compute") == D(31)
    events = gpu_events(store)
    assert len(events) == 1 and events[0]["metadata"]["amount"] == "31"
    assert stopped.session.event_id == events[0]["event_id"]


def test_stop_twice_meters_once(sessions, policy, store, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=5)
    first = sessions.stop("s1")
    clock.advance(seconds=100)  # a later retry must not meter the extra time
    second = sessions.stop("s1")
    assert second.replayed and second.charged == first.charged == D(5)
    assert second.session == first.session
    assert policy.value("cus_a", "gpu_compute") == D(5) and len(gpu_events(store)) == 1


def test_whole_seconds_are_not_rounded_up_again(sessions, policy, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=60)
    assert sessions.stop("s1").duration_seconds == 60
    sessions.start("cus_a", "s2")
    assert sessions.stop("s2").duration_seconds == 0  # no time passed: nothing metered, nothing recorded
    assert policy.value("cus_a", "gpu_compute") == D(60)


def test_prestart_refused_when_hard_quota_exhausted(sessions, policy, store):
    policy.ensure_customer("cus_free", "free")
    assert policy.allow("cus_free", "gpu_compute", "1hr")
    refused = sessions.start("cus_free", "s1")
    assert not refused and refused.code == QUOTA_EXHAUSTED and refused.remaining == 0
    assert sessions.get("s1") is None  # nothing stored: the id is still free
    assert refused.to_dict()["code"] == "QUOTA_EXHAUSTED"


def test_prestart_on_exhausted_soft_limit_follows_the_seed_unless_overage_allowed(sessions, policy):
    policy.ensure_customer("cus_pro", "pro")
    policy.allow("cus_pro", "gpu_compute", "10hr")
    assert sessions.start("cus_pro", "s1").code == QUOTA_EXHAUSTED  # seed: remaining <= 0 refuses
    overage = sessions.start("cus_pro", "s1", allow_overage=True)  # soft limit: overage is billed
    assert overage.ok and overage.remaining == 0


def test_prestart_refused_without_access(sessions, policy):
    policy.ensure_customer("cus_free", "free")
    no_video = sessions.start("cus_free", "v1", "video_transcode", "video_access")
    assert no_video.code == NO_ACCESS and "video_access" in no_video.message
    not_in_plan = sessions.start("cus_free", "v1", "video_transcode", None)
    assert not_in_plan.code == NO_ACCESS and "video_transcode" in not_in_plan.message
    assert sessions.get("v1") is None
    assert sessions.start("cus_free", "g1").ok  # gpu_access is on the free plan


def test_start_is_idempotent_and_ids_are_not_reused(sessions, clock):
    first = sessions.start("cus_a", "s1", plan="pro", description="notebook")
    clock.advance(seconds=3)
    again = sessions.start("cus_a", "s1")
    assert again.ok and again.replayed and again.session.started_at == first.session.started_at
    with pytest.raises(Conflict):
        sessions.start("cus_b", "s1")
    sessions.stop("s1")
    with pytest.raises(SessionNotRunning):
        sessions.start("cus_a", "s1")
    generated = sessions.start("cus_a")
    assert generated.ok and generated.session_id.startswith("ses_")


def test_heartbeat_of_stopped_or_unknown_session(sessions):
    sessions.start("cus_a", "s1", plan="pro")
    sessions.stop("s1")
    with pytest.raises(SessionNotRunning) as err:
        sessions.heartbeat("s1")
    assert err.value.status == 409 and err.value.code == "session_not_running"
    with pytest.raises(NotFound):
        sessions.heartbeat("nope")
    with pytest.raises(NotFound):
        sessions.stop("nope")
    with pytest.raises(ValidationError):
        sessions.start("", "x")


# ---------------------------------------------------------------------------------------------- reaper


def test_reaper_meters_abandoned_session_full_elapsed_once(sessions, policy, store, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=100)
    sessions.heartbeat("s1")
    clock.advance(seconds=1800, milliseconds=500)  # 1800.5 s without heartbeat
    result = sessions.reap(1800)
    assert [s.session_id for s in result.reaped] == ["s1"] and not result.errors
    reaped = result.reaped[0]
    assert reaped.status == "stopped" and reaped.stop_reason == "reaped"
    assert reaped.seconds == 1901 and reaped.charged == D(1901)  # the seed: start -> now, ceil
    assert sessions.reap(1800).reaped == []
    again = sessions.stop("s1")  # the client's late stop: same result, nothing more metered
    assert again.replayed and again.charged == D(1901)
    with pytest.raises(SessionNotRunning, match="reaped"):
        sessions.heartbeat("s1")
    assert policy.value("cus_a", "gpu_compute") == D(1901) and len(gpu_events(store)) == 1


def test_session_with_recent_heartbeat_is_not_reaped(sessions, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=1000)
    sessions.heartbeat("s1")
    clock.advance(seconds=1000)  # 2000 s since start, 1000 s since the heartbeat
    assert sessions.reap(1800).reaped == []
    clock.advance(seconds=800)  # exactly 1800 s idle: not yet (strictly more is abandoned)
    assert sessions.reap(1800).reaped == []
    clock.advance(microseconds=1)
    assert [s.session_id for s in sessions.reap(1800).reaped] == ["s1"]


@pytest.mark.parametrize("charge_until, seconds", [("now", 5000), ("deadline", 1900), ("last_seen", 100)])
def test_reaper_charge_until(sessions, clock, charge_until, seconds):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=100)
    sessions.heartbeat("s1")
    clock.advance(seconds=4900)  # the reaper runs late
    reaped = sessions.reap(1800, charge_until=charge_until).reaped
    assert reaped[0].seconds == seconds and reaped[0].charged == D(seconds)


def test_reaper_rejects_bad_arguments(sessions):
    with pytest.raises(ValidationError):
        sessions.reap(1800, charge_until="later")
    with pytest.raises(ValidationError):
        sessions.reap(-1)


def test_reaper_finishes_a_stop_that_crashed_after_the_claim(sessions, policy, store, clock, monkeypatch):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=42)
    real_allow = policy.allow

    def crash(*a, **kw):
        raise RuntimeError("process killed between claim and metering")

    monkeypatch.setattr(policy, "allow", crash)
    with pytest.raises(RuntimeError):
        sessions.stop("s1")
    assert sessions.get("s1").status == "stopping" and sessions.get("s1").seconds == 42
    monkeypatch.setattr(policy, "allow", real_allow)
    clock.advance(seconds=30)
    assert sessions.reap(1800, recover_after=60).recovered == []  # the stopper may still be working
    clock.advance(seconds=31)
    recovered = sessions.reap(1800, recover_after=60).recovered
    assert [s.session_id for s in recovered] == ["s1"] and recovered[0].charged == D(42)  # duration fixed at claim
    assert sessions.stop("s1").charged == D(42)
    assert policy.value("cus_a", "gpu_compute") == D(42) and len(gpu_events(store)) == 1


def test_metering_key_replays_if_the_finish_step_is_repeated(sessions, policy, store, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=7)
    sessions.stop("s1")
    replay = policy.allow("cus_a", "gpu_compute", "7s", idempotency_key=idempotency_key("s1"))
    assert replay.replayed and policy.value("cus_a", "gpu_compute") == D(7)


def test_hard_limit_outrun_is_charged_what_was_left(sessions, policy, store, clock):
    policy.ensure_customer("cus_free", "free")
    policy.allow("cus_free", "gpu_compute", "1000s")
    sessions.start("cus_free", "s1")
    clock.advance(hours=2)
    stopped = sessions.stop("s1")
    assert stopped.duration_seconds == 7200
    assert stopped.charged == D(2600) and stopped.session.outcome_reason == "capped_at_limit"
    assert stopped.session.to_dict()["capped"] is True and stopped.remaining == 0
    assert policy.value("cus_free", "gpu_compute") == D(3600)
    assert sessions.stop("s1").charged == D(2600)  # replay: still once
    assert policy.value("cus_free", "gpu_compute") == D(3600)


def test_soft_limit_outrun_consumes_full_duration_with_overage(sessions, policy, clock):
    sessions.start("cus_pro", "s1", plan="pro")
    clock.advance(hours=11)
    stopped = sessions.stop("s1")
    assert stopped.charged == D(39600) and stopped.session.outcome_reason == "ok"
    assert policy.status("cus_pro", "gpu_compute").overage == D(3600)


# ---------------------------------------------------------------------------------------------- display


def test_display_numbers(sessions, policy, clock):
    sessions.start("cus_a", "s1", plan="pro")
    clock.advance(seconds=600)
    sessions.stop("s1")
    idle = sessions.display("cus_a").to_dict()
    assert idle == {
        "customer_id": "cus_a", "entitlement": "gpu_compute", "used_seconds": "600", "limit_seconds": "36000",
        "remaining_seconds": "35400", "used_percent": idle["used_percent"], "unlimited": False, "mode": "soft",
        "active_session": None, "active_sessions": [], "projected_remaining_seconds": "35400",
    }
    assert D(idle["used_percent"]) == D(600) * 100 / D(36000)
    sessions.start("cus_a", "s2")
    clock.advance(seconds=120, milliseconds=900)
    d = sessions.display("cus_a")
    assert d.active_session.session_id == "s2" and d.active_session.elapsed_seconds == 120  # floor, as the seed
    assert d.used_seconds == D(600) and d.remaining_seconds == D(35400)
    assert d.projected_remaining_seconds == D(35400 - 120)
    assert d.to_dict()["active_session"]["running_since"] == "2025-01-01T12:10:00Z"


def test_display_of_customer_without_the_entitlement(sessions, policy):
    policy.ensure_customer("cus_free", "free")
    d = sessions.display("cus_free", "video_transcode").to_dict()
    assert d["used_seconds"] == "0" and d["limit_seconds"] == "0" and d["unlimited"] is True
    with pytest.raises(NotFound):
        sessions.display("nobody")


def test_sessions_are_per_environment(store, seed_text, clock, sessions):
    from meterbase.policy.service import PolicyService
    from meterbase.sessions import SessionService

    sessions.start("cus_a", "s1", plan="pro")
    live = SessionService(store, PolicyService(store, seed_text, environment="live_mode", clock=clock), clock)
    assert live.get("s1") is None and live.list() == []
    assert live.start("cus_a", "s1", plan="pro").ok  # same id, other environment
    assert [s.session_id for s in sessions.list(customer_id="cus_a")] == ["s1"]
    assert ENV == sessions.environment
