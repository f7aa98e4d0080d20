"""The /v1 session routes and the SDK methods, through FastAPI's TestClient (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.sdk import Meterbase
from meterbase.sdk.client import MeterbaseAPIError

from .conftest import gpu_events


@pytest.fixture
def api(store, clock, seed_text):
    store.clock = clock
    token, _ = store.create_key("rw", "test_mode")
    ro, _ = store.create_key("ro", "test_mode", read_only=True)
    client = TestClient(create_app(store, Settings(database_url=store.url)),
                        headers={"Authorization": f"Bearer {token}"})
    client.token, client.ro = token, ro
    r = client.put("/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    return client


def test_start_heartbeat_stop_over_http(api, store, clock):
    r = api.post("/v1/sessions", json={"customer_id": "cus_a", "session_id": "s1", "plan": "pro",
                                       "description": "jupyter"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ok"] and body["remaining"] == "36000" and body["session"]["status"] == "running"
    again = api.post("/v1/sessions", json={"customer_id": "cus_a", "session_id": "s1"})
    assert again.status_code == 200 and again.json()["replayed"] is True
    clock.advance(seconds=30)
    hb = api.post("/v1/sessions/s1/heartbeat")
    assert hb.status_code == 200 and hb.json()["heartbeats"] == 1 and hb.json()["elapsed_seconds"] == 30
    clock.advance(seconds=14, milliseconds=1)
    stop = api.post("/v1/sessions/s1/stop").json()
    assert stop["duration_seconds"] == 45 and stop["charged"] == "45" and stop["remaining"] == "35955"
    assert stop["replayed"] is False and stop["session"]["status"] == "stopped"
    repeat = api.post("/v1/sessions/s1/stop").json()
    assert repeat["replayed"] is True and repeat["charged"] == "45"
    assert len(gpu_events(store)) == 1
    late = api.post("/v1/sessions/s1/heartbeat")
    assert late.status_code == 409 and late.json()["code"] == "session_not_running"
    got = api.get("/v1/sessions/s1").json()
    assert got["status"] == "stopped" and got["duration_seconds"] == 45 and got["description"] == "jupyter"


def test_refusals_are_ok_false_with_a_code(api):
    api.post("/v1/policy/customers", json={"customer_id": "cus_free", "plan": "free"})
    r = api.post("/v1/sessions", json={"customer_id": "cus_free", "session_id": "v1", "entitlement": "video_transcode",
                                       "access_entitlement": "video_access"})
    assert r.status_code == 200 and r.json()["ok"] is False and r.json()["code"] == "NO_ACCESS"
    api.post("/v1/policy/allow", json={"customer_id": "cus_free", "entitlement": "gpu_compute", "amount": "1hr"})
    r = api.post("/v1/sessions", json={"customer_id": "cus_free", "session_id": "g1"})
    assert r.json() == {"ok": False, "session_id": "g1", "code": "QUOTA_EXHAUSTED", "replayed": False,
                        "message": r.json()["message"], "remaining": "0", "session": None}
    assert api.get("/v1/sessions/g1").status_code == 404


def test_lists_display_and_reap_over_http(api, clock):
    api.post("/v1/sessions", json={"customer_id": "cus_a", "session_id": "s1", "plan": "pro"})
    clock.advance(seconds=600)
    api.post("/v1/sessions/s1/stop")
    api.post("/v1/sessions", json={"customer_id": "cus_a", "session_id": "s2"})
    api.post("/v1/sessions", json={"customer_id": "cus_b", "session_id": "s3", "plan": "pro"})
    clock.advance(seconds=60)
    assert [s["session_id"] for s in api.get("/v1/customers/cus_a/sessions").json()["data"]] == ["s2", "s1"]
    assert [s["session_id"] for s in api.get("/v1/sessions", params={"status": "running"}).json()["data"]] == ["s3", "s2"]
    assert api.get("/v1/sessions", params={"status": "bogus"}).status_code == 422
    d = api.get("/v1/customers/cus_a/sessions/display").json()
    assert (d["used_seconds"], d["limit_seconds"], d["remaining_seconds"]) == ("600", "36000", "35400")
    assert d["active_session"]["session_id"] == "s2" and d["active_session"]["elapsed_seconds"] == 60
    assert d["projected_remaining_seconds"] == "35340"
    clock.advance(seconds=1801)
    reaped = api.post("/v1/sessions/reap", json={"max_idle_seconds": 1800, "charge_until": "deadline"}).json()
    assert sorted(s["session_id"] for s in reaped["reaped"]) == ["s2", "s3"]
    assert {s["duration_seconds"] for s in reaped["reaped"]} == {1800}
    assert api.post("/v1/sessions/reap").json()["reaped"] == []
    assert api.post("/v1/sessions/reap", json={"charge_until": "later"}).status_code == 422


def test_http_errors(api):
    assert api.post("/v1/sessions/nope/stop").status_code == 404
    assert api.post("/v1/sessions/nope/heartbeat").json()["code"] == "not_found"
    r = api.post("/v1/sessions", json={"customer_id": "cus_a", "bogus": 1})
    assert r.status_code == 422 and r.json()["field"] == "bogus"
    assert api.post("/v1/sessions", json={"session_id": "x"}).json()["field"] == "customer_id"
    ro = api.post("/v1/sessions", json={"customer_id": "cus_a"}, headers={"Authorization": f"Bearer {api.ro}"})
    assert ro.status_code == 403
    assert api.get("/v1/sessions", headers={"Authorization": f"Bearer {api.ro}"}).status_code == 200
    api.post("/v1/sessions", json={"customer_id": "cus_a", "session_id": "s1", "plan": "pro"})
    taken = api.post("/v1/sessions", json={"customer_id": "cus_b", "session_id": "s1"})
    assert taken.status_code == 409


def test_sdk_session_methods(api, clock):
    mb = Meterbase(api.token, base_url="http://testserver", transport=api._transport)
    started = mb.start_session("cus_sdk", plan="pro", description="sdk")
    sid = started["session_id"]
    assert started["ok"] and sid.startswith("ses_")
    clock.advance(seconds=3)
    assert mb.heartbeat(sid)["heartbeats"] == 1
    assert mb.session_display("cus_sdk")["active_session"]["session_id"] == sid
    clock.advance(seconds=2)
    assert mb.stop_session(sid)["charged"] == "5"
    assert mb.get_session(sid)["status"] == "stopped"
    with pytest.raises(MeterbaseAPIError) as err:
        mb.heartbeat(sid)
    assert err.value.status == 409
    assert mb.start_session("cus_sdk", entitlement="video_transcode", access_entitlement=None)["ok"] is True
    mb.close()
