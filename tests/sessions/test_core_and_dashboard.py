"""The pure core (durations, pre-start rule, reaping instants, display) and the dashboard provider."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbase.dashboard import providers
from meterbase.sessions import core

S = 1_000_000
D = Decimal


@pytest.mark.parametrize("us, seconds", [(0, 0), (1, 1), (S, 1), (S + 1, 2), (30_300_000, 31), (-5, 0)])
def test_billable_seconds_rounds_up(us, seconds):
    assert core.billable_seconds(0, us) == seconds


def test_elapsed_is_floor_and_abandonment_is_strict():
    assert core.elapsed_seconds(0, 2 * S - 1) == 1
    assert not core.is_abandoned(0, 1800 * S, 1800) and core.is_abandoned(0, 1800 * S + 1, 1800)
    with pytest.raises(ValueError):
        core.idle_cutoff(0, -1)


def test_charge_end_modes():
    start, seen, now = 0, 100 * S, 5000 * S
    assert core.charge_end(start, seen, now, 1800, "now") == now
    assert core.charge_end(start, seen, now, 1800, "deadline") == 1900 * S
    assert core.charge_end(start, seen, 1000 * S, 1800, "deadline") == 1000 * S  # never after now
    assert core.charge_end(start, seen, now, 1800, "last_seen") == seen
    assert core.charge_end(10 * S, 5 * S, now, 0, "last_seen") == 10 * S  # never before the start
    with pytest.raises(ValueError):
        core.charge_end(start, seen, now, 1800, "later")


def test_duration_amount_per_credit_unit():
    assert core.duration_amount(61, D(1)) == "61s"
    assert core.duration_amount(61, D("0.001")) == "61s"
    assert core.duration_amount(120, D(60)) == "120s"
    assert core.duration_amount(61, D(60)) == "1.016667"  # '61s' into minutes is inexact: round up
    assert core.duration_amount(61, None) == "61"


def test_start_rule():
    rule = lambda **kw: core.start_rule(**{"access": "gpu_access", "access_granted": True, "entitlement": "gpu_compute",
                                           "included": True, "remaining": D(5), "mode": "hard", **kw}).code
    assert rule() is None
    assert rule(access_granted=False) == core.NO_ACCESS
    assert rule(access=None, access_granted=False) is None
    assert rule(included=False) == core.NO_ACCESS
    assert rule(remaining=D(0)) == core.QUOTA_EXHAUSTED
    assert rule(remaining=None) is None  # no limit
    assert rule(remaining=D(0), mode="soft") == core.QUOTA_EXHAUSTED
    assert rule(remaining=D(0), mode="soft", allow_overage=True) is None
    assert rule(remaining=D(0), mode="hard", allow_overage=True) == core.QUOTA_EXHAUSTED


def _session(sid, started):
    return core.Session(sid, "c", "gpu_compute", None, None, "running", started, started, 0)


def test_compute_display_converts_credit_units_to_seconds():
    d = core.compute_display("c", "gpu_compute", used=D(2), limit=D(10), remaining=D(8), percent=D(20), mode="hard",
                             running=[_session("a", 0), _session("b", 60 * S)], now_us=120 * S, unit_seconds=D(60))
    assert (d.used_seconds, d.limit_seconds, d.remaining_seconds) == (D(120), D(600), D(480))
    assert d.active_session.session_id == "b" and [a.elapsed_seconds for a in d.active_sessions] == [60, 120]
    assert d.projected_remaining_seconds == D(480 - 180)
    none = core.compute_display("c", "x", used=None, limit=None, remaining=None, percent=None, mode=None,
                                running=[], now_us=0)
    assert none.to_dict()["limit_seconds"] == "0" and none.unlimited and none.projected_remaining_seconds is None


def test_dashboard_provider_lists_running_sessions(sessions, store, clock):
    assert providers.available("sessions")
    sessions.start("cus_a", "s1", plan="pro", description="notebook")
    clock.advance(minutes=2, seconds=5)
    sessions.start("cus_a", "s2")
    sessions.start("cus_b", "s3", plan="pro")
    sessions.stop("s2")
    rows = providers.live_sessions(store, "test_mode", "cus_a")
    assert [r["id"] for r in rows] == ["s1"]
    row = rows[0]
    assert row["started_at"] == "2025-01-01T12:00:00Z" and row["last_seen_at"] == "2025-01-01T12:00:00Z"
    assert row["description"] == "notebook · gpu_compute, running 2m 05s" and row["elapsed_seconds"] == 125
    assert providers.live_sessions(store, "live_mode", "cus_a") == []


def test_customer_page_shows_the_running_session(store, seed_text, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from meterbase.api import create_app
    from meterbase.config import Settings
    from meterbase.policy.service import PolicyService
    from meterbase.sessions import SessionService

    monkeypatch.setenv("MB_SECRET_KEY", "unit-test-secret-" + "x" * 32)
    key, _ = store.create_key("ui", "test_mode")
    svc = SessionService(store, PolicyService(store, seed_text, environment="test_mode"))
    svc.start("cus_ui", "ses_ui_1", plan="pro", description="notebook")
    store.ingest("test_mode", [{"event_id": "e1", "customer_id": "cus_ui", "event_name": "x", "metadata": {}}])
    client = TestClient(create_app(store, Settings(database_url=store.url)), follow_redirects=False)
    assert client.post("/ui/login", data={"api_key": key, "next": "/ui"}).status_code == 303
    html = client.get("/ui/customers/cus_ui").text
    assert "ses_ui_1" in html and "notebook · gpu_compute, running" in html and 'id="no-sessions"' not in html
