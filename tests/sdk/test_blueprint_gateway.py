"""API Gateway blueprint: ASGI (FastAPI) and WSGI (Flask) middlewares."""

from __future__ import annotations

import re

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.testclient import TestClient

from meterbase.sdk.blueprints import MeteringMiddleware, WSGIMeteringMiddleware, track_api_call

from .conftest import bag, ns_clock

KEYS = {"key_acme": "cus_acme", "key_globex": "cus_globex"}


def fastapi_app(ingestion, **options) -> FastAPI:
    app = FastAPI()

    def authenticate(request: Request):
        customer = KEYS.get(request.headers.get("x-api-key", ""))
        if customer is None:
            raise HTTPException(401, "unknown key")
        request.state.customer_id = customer  # what the middleware reads after the response

    @app.get("/v1/users/{user_id}", dependencies=[Depends(authenticate)])
    def get_user(user_id: int):
        return {"id": user_id}

    @app.post("/v1/items", status_code=201, dependencies=[Depends(authenticate)])
    def create_item():
        return {"ok": True}

    @app.get("/v1/boom", dependencies=[Depends(authenticate)])
    def boom():
        raise RuntimeError("bug")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    app.add_middleware(MeteringMiddleware, ingestion=ingestion, clock=ns_clock(2_500_000),
                       customer_id=lambda req: req.state.get("customer_id"), **options)
    return app


def flask_app(ingestion, **options):
    from flask import Flask, abort, request

    app = Flask(__name__)

    @app.before_request
    def authenticate():
        if request.path.startswith("/v1/"):
            customer = KEYS.get(request.headers.get("X-Api-Key", ""))
            if customer is None:
                abort(401)
            request.environ["meterbase.customer_id"] = customer

    @app.get("/v1/users/<int:user_id>")
    def get_user(user_id):
        return {"id": user_id}

    @app.post("/v1/items")
    def create_item():
        return {"ok": True}, 201

    @app.get("/v1/stream")
    def stream():
        return app.response_class((f"line {i}\n" for i in range(3)), mimetype="text/plain")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    app.wsgi_app = WSGIMeteringMiddleware(app.wsgi_app, ingestion, clock=ns_clock(2_500_000),
                                          customer_id=lambda req: req.state.get("meterbase.customer_id"), **options)
    return app


def meta(endpoint, method, status, route=None):
    m = {"endpoint": endpoint, "method": method, "status_code": status, "response_time_ms": 2.5}
    if route:
        m["route"] = route
    return m


def test_asgi_middleware_records_exact_events(recorder):
    app = fastapi_app(recorder, exclude_paths=["/healthz", "/internal/*"])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/users/42", headers={"X-Api-Key": "key_acme"}).status_code == 200
        assert client.post("/v1/items", headers={"X-Api-Key": "key_acme"}).status_code == 201
        assert client.get("/v1/boom", headers={"X-Api-Key": "key_globex"}).status_code == 500
        assert client.get("/v1/users/1").status_code == 401       # no customer: not recorded
        assert client.get("/healthz").status_code == 200          # excluded
        assert client.get("/internal/metrics").status_code == 404  # excluded by prefix
    assert [(c["event_name"], c["customer_id"], c["metadata"]) for c in recorder.calls] == [
        ("api_call", "cus_acme", meta("/v1/users/42", "GET", 200, "/v1/users/{user_id}")),
        ("api_call", "cus_acme", meta("/v1/items", "POST", 201, "/v1/items")),
        ("api_call", "cus_globex", meta("/v1/boom", "GET", 500, "/v1/boom")),
    ]


def test_wsgi_middleware_records_exact_events(recorder):
    app = flask_app(recorder, exclude_paths=["/healthz"], event_name="http_request",
                    metadata=lambda req: {"plan": "pro"})
    client = app.test_client()  # buffered=True: read and close each body like a real server does
    assert client.get("/v1/users/7", headers={"X-Api-Key": "key_acme"}, buffered=True).status_code == 200
    assert client.post("/v1/items", headers={"X-Api-Key": "key_globex"}, buffered=True).status_code == 201
    body = client.get("/v1/stream", headers={"X-Api-Key": "key_globex"}, buffered=True).data
    assert body == b"line 0\nline 1\nline 2\n"
    assert client.get("/v1/users/7", buffered=True).status_code == 401
    assert client.get("/healthz", buffered=True).status_code == 200
    assert client.get("/v1/nope", headers={"X-Api-Key": "key_acme"}, buffered=True).status_code == 404
    assert [(c["event_name"], c["customer_id"], c["metadata"]) for c in recorder.calls] == [
        ("http_request", "cus_acme", {**meta("/v1/users/7", "GET", 200, "/v1/users/<int:user_id>"), "plan": "pro"}),
        ("http_request", "cus_globex", {**meta("/v1/items", "POST", 201, "/v1/items"), "plan": "pro"}),
        ("http_request", "cus_globex", {**meta("/v1/stream", "GET", 200, "/v1/stream"), "plan": "pro"}),
        ("http_request", "cus_acme", {**meta("/v1/nope", "GET", 404), "plan": "pro"}),
    ]


def test_customer_id_callable_may_be_async_and_failures_never_break_requests(recorder):
    async def customer(req):
        return req.header("x-tenant")

    app = FastAPI()
    app.get("/ok")(lambda: {"ok": True})
    app.add_middleware(MeteringMiddleware, ingestion=recorder, customer_id=customer, clock=ns_clock(1_000))
    with TestClient(app) as client:
        client.get("/ok", headers={"X-Tenant": "cus_t"})
    assert recorder.calls[0]["customer_id"] == "cus_t"
    assert recorder.calls[0]["metadata"]["response_time_ms"] == 0.001  # to the microsecond

    def explode(*a, **kw):
        raise RuntimeError("tracking down")
    recorder.track = explode
    with TestClient(app) as client:
        assert client.get("/ok", headers={"X-Tenant": "cus_t"}).status_code == 200
    with pytest.raises(TypeError):
        MeteringMiddleware(app, recorder, customer_id="cus_fixed")


def test_gateway_events_and_meter_end_to_end(server, meters):
    with server.ingestion() as ing:
        app = fastapi_app(ing, exclude_paths=["/healthz"])
        with TestClient(app, raise_server_exceptions=False) as client:
            for i in range(5):
                client.get(f"/v1/users/{i}", headers={"X-Api-Key": "key_acme"})
            client.post("/v1/items", headers={"X-Api-Key": "key_acme"})
            client.get("/healthz")
        fl = flask_app(ing).test_client()
        for i in range(3):
            fl.get(f"/v1/users/{i}", headers={"X-Api-Key": "key_acme"}, buffered=True)
        track_api_call(ing, "cus_acme", {"endpoint": "/graphql", "method": "POST", "status_code": 200})
    events = [e for e in server.events("cus_acme")]
    assert all(e["event_name"] == "api_call" and re.match(r"^api_call_\d{13}_[0-9a-f]{12}$", e["event_id"])
               for e in events)
    assert bag(e["metadata"] for e in events) == bag(
        [meta(f"/v1/users/{i}", "GET", 200, "/v1/users/{user_id}") for i in range(5)]
        + [meta("/v1/items", "POST", 201, "/v1/items")]
        + [meta(f"/v1/users/{i}", "GET", 200, "/v1/users/<int:user_id>") for i in range(3)]
        + [{"endpoint": "/graphql", "method": "POST", "status_code": 200}])
    assert server.usage(meters["API requests"], "cus_acme") == 10
