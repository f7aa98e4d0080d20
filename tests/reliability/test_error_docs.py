"""``/openapi.json`` documents the error answers a client has to handle: every operation lists ``408
request_timeout`` and ``413 payload_too_large`` (the guards in front of every route), the usage route its
``422 usage_too_large`` bound, the routes that price a period ``422 unbillable_quantity``, the meter routes the
definition bounds -- all with the one shared ``ErrorBody`` schema, and each documented code is what the
server really answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

METHODS = ("get", "post", "put", "patch", "delete")
ERROR = "#/components/schemas/ErrorBody"


@pytest.fixture()
def spec(store) -> dict:
    return TestClient(create_app(store, Settings(database_url=store.url))).get("/openapi.json").json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def codes(answer: dict) -> set[str]:
    examples = answer["content"]["application/json"].get("examples", {})
    return {e["value"]["code"] for e in examples.values()}


def test_every_operation_documents_the_guards_408_and_413_with_the_shared_schema(spec):
    ops = list(operations(spec))
    assert len(ops) > 100
    for path, method, op in ops:
        for status, code in (("408", "request_timeout"), ("413", "payload_too_large")):
            answer = op["responses"].get(status)
            assert answer is not None, f"{method.upper()} {path} lacks {status}"
            assert answer["content"]["application/json"]["schema"]["$ref"] == ERROR
            assert code in codes(answer) and code in answer["description"]
    assert "MB_HEADER_TIMEOUT" in ops[0][2]["responses"]["408"]["description"]
    assert "MB_MAX_BODY_BYTES" in ops[0][2]["responses"]["413"]["description"]
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) == {"code", "message"}


def test_route_specific_error_codes_are_documented(spec):
    paths = spec["paths"]
    usage = paths["/v1/meters/{meter_id}/usage"]["get"]
    assert {"usage_too_large", "validation_error"} <= codes(usage["responses"]["422"])
    assert "MB_MAX_USAGE_CELLS" in usage["responses"]["422"]["description"]
    sparse = next(p for p in usage["parameters"] if p["name"] == "sparse")
    assert sparse["schema"]["type"] == "boolean" and sparse["schema"]["default"] is False
    assert "omit the windows" in sparse["description"]
    for path, method in (("/v1/subscriptions/{subscription_id}/upcoming-invoice", "get"),
                         ("/v1/subscriptions/{subscription_id}/invoices", "post"),
                         ("/v1/invoices/{invoice_id}/finalize", "post")):
        answer = paths[path][method]["responses"]["422"]
        assert "unbillable_quantity" in codes(answer), path
        assert answer["content"]["application/json"]["schema"]["$ref"] == ERROR
    for path, method in (("/v1/meters", "post"), ("/v1/meters/{meter_id}", "patch"), ("/meters", "post"),
                         ("/meters/{meter_id}", "patch")):
        answer = paths[path][method]["responses"]["422"]
        assert "bound" in answer["description"] and codes(answer) == {"validation_error"}, path
    for code in ("request_timeout", "payload_too_large", "usage_too_large", "unbillable_quantity", "rate_limited"):
        assert code in spec["components"]["schemas"]["ErrorBody"]["properties"]["code"]["description"]


def test_the_documented_examples_are_what_the_server_answers(store):
    """The documented messages come from the real errors (the same wording, other figures)."""
    token, _ = store.create_key("rw", "test_mode")
    api = TestClient(create_app(store, Settings(database_url=store.url, max_usage_cells=10, max_body_bytes=100)))
    api.headers["Authorization"] = f"Bearer {token}"
    spec = api.get("/openapi.json").json()
    meter = api.post("/v1/meters", json={"name": "m", "event_name": "e", "aggregation": {"type": "count"}}).json()["id"]
    api.post("/v1/events/ingest", json={"events": [{"event_id": "a", "customer_id": "c", "event_name": "e",
                                                    "timestamp": "2025-01-01T00:00:00Z"}]})
    r = api.get(f"/v1/meters/{meter}/usage", params={"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T00:11:00Z",
                                                     "window": "minute"})
    documented = spec["paths"]["/v1/meters/{meter_id}/usage"]["get"]["responses"]["422"]["content"][
        "application/json"]["examples"]["usage_too_large"]["value"]
    got = r.json()
    assert r.status_code == 422 and got["code"] == documented["code"] and got["field"] == documented["field"]
    assert got["message"].split(" cells")[0].rsplit(" ", 1)[0] == documented["message"].split(" cells")[0].rsplit(" ", 1)[0]
    assert got["message"].split("(MB_MAX_USAGE_CELLS)")[1] == documented["message"].split("(MB_MAX_USAGE_CELLS)")[1]
    big = api.post("/v1/meters", content=b"x" * 200, headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
