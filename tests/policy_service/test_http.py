"""The /v1/policy routes: seed 004 flows over HTTP, exact decimal strings, {code, message, field} errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.api.routes.policy import policy_service
from meterbase.config import Settings
from meterbase.storage import open_store

from support.clock import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def api(tmp_path, clock, seed_text):
    store = open_store(f"sqlite:///{tmp_path}/api.db", clock)
    token, _ = store.create_key("rw", "test_mode")
    ro, _ = store.create_key("ro", "test_mode", read_only=True)
    live, _ = store.create_key("live", "live_mode")
    app = create_app(store, Settings(database_url=store.url))
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    client.ro, client.live, client.store = ro, live, store
    r = client.put("/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    yield client
    store.close()


def test_put_policy_yaml_is_versioned_per_environment(api, seed_text):
    doc = api.get("/v1/policy").json()
    assert doc["version"] == 1 and doc["source"] == seed_text and doc["plans"]["free"]["default"] is True
    again = api.put("/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"}).json()
    assert (again["version"], again["created"]) == (1, False)
    changed = api.put("/v1/policy", json={"format": "yaml", "source": seed_text.replace("'2hr'", "'3hr'")}).json()
    assert (changed["version"], changed["created"]) == (2, True)
    assert [v["version"] for v in api.get("/v1/policy/versions").json()["data"]] == [2, 1]
    assert api.get("/v1/policy/versions/1").json()["source"] == seed_text
    live = api.get("/v1/policy", headers={"Authorization": f"Bearer {api.live}"})
    assert live.status_code == 404 and live.json()["field"] == "policy"  # data never crosses modes


def test_put_policy_json_document(api):
    doc = {"policy": {"credits": {"call": {"pricing_model": "flat", "price": {"amount": "0.02"}}},
                      "plans": {"basic": {"label": "Basic", "period": "monthly", "default": True, "entitlements": {
                          "calls": {"limit": {"credit": "call", "mode": "hard", "value": 2, "resets": True}}}}}}}
    r = api.put("/v1/policy", json=doc)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["format"] == "json"
    api.post("/v1/policy/customers", json={"customer_id": "c1"})
    assert [api.post("/v1/policy/allow", json={"customer_id": "c1", "entitlement": "calls", "amount": 1}).json()["allowed"]
            for _ in range(3)] == [True, True, False]


def test_invalid_policy_is_rejected_with_its_path_and_nothing_is_stored(api, seed_text):
    bad = seed_text.replace("mode: hard", "mode: strict", 1)
    r = api.put("/v1/policy", content=bad, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error" and body["field"] == "plans.free.entitlements.gpu_compute.limit.mode"
    assert "line" in body["message"]
    assert api.get("/v1/policy").json()["version"] == 1
    r = api.put("/v1/policy", content=b"policy: [", headers={"Content-Type": "text/yaml"})
    assert r.status_code == 422 and "invalid YAML" in r.json()["message"]
    r = api.put("/v1/policy", content=seed_text, headers={"Authorization": f"Bearer {api.ro}", "Content-Type": "text/yaml"})
    assert r.status_code == 403


def test_free_plan_hard_limit_over_http(api):
    r = api.post("/v1/policy/customers", json={"customer_id": "cus_free"})
    assert r.status_code == 200 and r.json()["plan"] == "free"
    check = api.post("/v1/policy/check", json={"customer_id": "cus_free", "entitlement": "gpu_compute", "amount": 3601}).json()
    assert (check["allowed"], check["reason"], check["remaining"], check["amount"]) == (False, "limit_exceeded", "3600", "3601")
    ok = api.post("/v1/policy/check", json={"customer_id": "cus_free", "entitlement": "gpu_compute", "amount": "1hr"}).json()
    assert ok["allowed"] is True and ok["consumed"] == "0"
    a = api.post("/v1/policy/allow", json={"customer_id": "cus_free", "entitlement": "gpu_compute", "amount": 1800.5}).json()
    assert (a["allowed"], a["consumed"], a["used_after"], a["remaining"]) == (True, "1800.5", "1800.5", "1799.5")
    assert a["period_start"] == "2025-01-01T12:00:00Z" and a["period_end"] == "2025-01-31T12:00:00Z"
    base = "/v1/policy/customers/cus_free/entitlements/gpu_compute"
    assert api.get(base + "/remaining").json()["remaining"] == "1799.5"
    assert api.get(base + "/value").json()["value"] == "1800.5"
    assert api.get(base + "/value?percent=true").json()["value"] == "50.01388888888888888888888889"
    assert api.get(base + "/limit").json()["limit"] == "3600"
    status = api.get(base).json()
    assert (status["used"], status["limit"], status["mode"], status["credit"]) == ("1800.5", "3600", "hard", "gpu_second")


def test_pro_soft_limit_overage_and_idempotency_header(api):
    api.post("/v1/policy/customers", json={"customer_id": "cus_pro", "plan": "pro"})
    body = {"customer_id": "cus_pro", "entitlement": "gpu_compute", "amount": "36600s"}
    first = api.post("/v1/policy/allow", json=body, headers={"Idempotency-Key": "k1"}).json()
    assert (first["allowed"], first["overage"], first["used_after"], first["replayed"]) == (True, "600", "36600", False)
    again = api.post("/v1/policy/allow", json=body, headers={"Idempotency-Key": "k1"}).json()
    assert again["replayed"] is True and again["event_id"] == first["event_id"]
    assert api.get("/v1/policy/customers/cus_pro/entitlements/gpu_compute/value").json()["value"] == "36600"
    clash = api.post("/v1/policy/allow", json={**body, "amount": 1}, headers={"Idempotency-Key": "k1"})
    assert clash.status_code == 409 and clash.json()["field"] == "idempotency_key"
    ev = api.get(f"/v1/events/{first['event_id']}").json()
    assert ev["event_name"] == "gpu_second" and ev["metadata"]["overage"] == "600"


def test_video_denied_on_free_limited_on_pro_and_reset_after_30_days(api, clock):
    api.post("/v1/policy/customers", json={"customer_id": "cus_free"})
    denied = api.post("/v1/policy/allow", json={"customer_id": "cus_free", "entitlement": "video_transcode", "amount": 1}).json()
    assert (denied["allowed"], denied["reason"]) == (False, "not_in_plan")
    r = api.put("/v1/policy/customers/cus_free/plan", json={"plan": "pro"})
    assert r.status_code == 200 and r.json()["plan"] == "pro"
    allow = lambda amount: api.post(  # noqa: E731
        "/v1/policy/allow", json={"customer_id": "cus_free", "entitlement": "video_transcode", "amount": amount}).json()
    assert allow("2hr")["allowed"] and not allow("1s")["allowed"]
    clock.advance(days=30)
    assert api.get("/v1/policy/customers/cus_free/entitlements/video_transcode/remaining").json()["remaining"] == "7200"
    assert allow("1s")["allowed"]


def test_handlers_on_the_app_service_see_http_decisions(api):
    calls = []
    policy_service(api.app, "test_mode").add_handler("billing", lambda key, value: calls.append(key))
    api.post("/v1/policy/customers", json={"customer_id": "cus_pro", "plan": "pro"})
    api.post("/v1/policy/allow", json={"customer_id": "cus_pro", "entitlement": "gpu_compute", "amount": "11hr"})
    assert calls == ["meter-overage"]


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/v1/policy/check", {"customer_id": "nobody", "entitlement": "gpu_access"}, 404, "customer_id"),
        ("/v1/policy/allow", {"customer_id": "cus_a", "entitlement": "gpu_compute"}, 422, "amount"),
        ("/v1/policy/allow", {"customer_id": "cus_a", "entitlement": "gpu_compute", "amount": "1e30"}, 422, "amount"),
        ("/v1/policy/allow", {"customer_id": "cus_a", "entitlement": "gpu_compute", "amount": "5GB"}, 422, "amount"),
        ("/v1/policy/allow", {"customer_id": "cus_a", "entitlement": "gpu_compute", "amount": True}, 422, "amount"),
        ("/v1/policy/allow", {"customer_id": "cus_a", "entitlement": "gpu_compute", "amount": 1, "x": 1}, 422, "x"),
        ("/v1/policy/check", {"customer_id": "", "entitlement": "gpu_access"}, 422, "customer_id"),
        ("/v1/policy/customers", {"customer_id": "cus_b", "plan": "platinum"}, 404, "plan"),
        ("/v1/policy/customers", {"customer_id": "cus_b", "anchor": "someday"}, 422, "anchor"),
    ],
)
def test_errors_are_code_message_field(api, path, body, status, field):
    api.post("/v1/policy/customers", json={"customer_id": "cus_a"})
    r = api.post(path, json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"code", "message", "field"} and r.json()["field"] == field


def test_read_only_key_may_check_but_not_allow(api):
    api.post("/v1/policy/customers", json={"customer_id": "cus_a"})
    ro = {"Authorization": f"Bearer {api.ro}"}
    body = {"customer_id": "cus_a", "entitlement": "gpu_compute", "amount": 1}
    assert api.post("/v1/policy/check", json=body, headers=ro).status_code == 200
    r = api.post("/v1/policy/allow", json=body, headers=ro)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_anchor_can_be_given_when_ensuring(api, clock):
    anchor = (clock.now - timedelta(days=45)).isoformat()
    c = api.post("/v1/policy/customers", json={"customer_id": "cus_old", "anchor": anchor}).json()
    assert c["anchor"] == "2024-11-17T12:00:00Z"
    status = api.get("/v1/policy/customers/cus_old/entitlements/gpu_compute").json()
    assert (status["period_start"], status["period_end"]) == ("2024-12-17T12:00:00Z", "2025-01-16T12:00:00Z")
    assert api.get("/v1/policy/customers/cus_old").json()["plan"] == "free"
    assert api.get("/v1/policy/customers/nobody").status_code == 404
