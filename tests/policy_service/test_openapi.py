"""The policy and session routes in /openapi.json: every body and 2xx answer is a model, every parameter is
described, and real answers validate against the documented models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.api.routes import policy_schemas as P, sessions_schemas as S
from meterbase.config import Settings
from meterbase.storage import open_store


@pytest.fixture
def api(tmp_path, clock, seed_text):
    store = open_store(f"sqlite:///{tmp_path}/o.db", clock)
    token, _ = store.create_key("rw", "test_mode")
    client = TestClient(create_app(store, Settings(database_url=store.url)), headers={"Authorization": f"Bearer {token}"})
    assert client.put("/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"}).status_code == 200
    yield client
    store.close()


def _ours(path: str) -> bool:
    return path.startswith("/v1/policy") or "sessions" in path


def test_every_policy_and_session_operation_is_documented(api):
    spec = api.get("/openapi.json").json()
    operations = [(m, p, op) for p, ops in spec["paths"].items() if _ours(p) for m, op in ops.items()]
    assert len(operations) == 22
    for method, path, op in operations:
        ok = op["responses"].get("200") or op["responses"].get("201")
        assert ok["content"]["application/json"]["schema"], (method, path)
        for param in op.get("parameters", []):
            assert param.get("description"), (method, path, param["name"])
        if method in ("post", "put") and not path.endswith(("/heartbeat", "/stop")):
            assert op["requestBody"]["content"], (method, path)


def test_answers_validate_against_their_models(api, clock):
    customer = api.post("/v1/policy/customers", json={"customer_id": "cus_1", "plan": "pro"}).json()
    P.PolicyCustomerOut.model_validate(customer)
    P.PolicyVersionOut.model_validate(api.get("/v1/policy").json())
    P.PolicyVersionsOut.model_validate(api.get("/v1/policy/versions").json())
    P.PolicyCustomerOut.model_validate(api.put("/v1/policy/customers/cus_1/plan", json={"plan": "pro"}).json())
    for verb in ("check", "allow"):
        answer = api.post(f"/v1/policy/{verb}", json={"customer_id": "cus_1", "entitlement": "gpu_compute", "amount": "11hr"})
        P.DecisionOut.model_validate(answer.json())
    base = "/v1/policy/customers/cus_1/entitlements/gpu_compute"
    P.EntitlementStatusOut.model_validate(api.get(base).json())
    P.RemainingOut.model_validate(api.get(base + "/remaining?percent=true").json())
    P.ValueOut.model_validate(api.get(base + "/value").json())
    P.LimitOut.model_validate(api.get(base + "/limit").json())
    lines = api.get("/v1/policy/customers/cus_1/overage").json()
    P.OverageLinesOut.model_validate(lines)
    assert lines["data"][0]["line"]["amount"] == "1.44"  # 3600 s past 10 hr at the first tier's $0.0004

    started = api.post("/v1/sessions", json={"customer_id": "cus_1", "session_id": "s1", "allow_overage": True})
    assert started.status_code == 201, started.text
    S.StartOut.model_validate(started.json())
    S.SessionOut.model_validate(api.post("/v1/sessions/s1/heartbeat").json())
    S.SessionOut.model_validate(api.get("/v1/sessions/s1").json())
    S.SessionsOut.model_validate(api.get("/v1/sessions").json())
    S.SessionsOut.model_validate(api.get("/v1/customers/cus_1/sessions").json())
    S.DisplayOut.model_validate(api.get("/v1/customers/cus_1/sessions/display").json())
    clock.advance(seconds=30)
    S.StopOut.model_validate(api.post("/v1/sessions/s1/stop").json())
    S.ReapOut.model_validate(api.post("/v1/sessions/reap", json={"max_idle_seconds": 0}).json())
