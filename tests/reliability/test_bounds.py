"""Issue 19, resource bounds: every route bounds its body before parsing or authentication, every
string and list of a meter definition is bounded (a 4xx naming the field and the bound), failed
authentications are rate-limited per address, logout ends a session server-side, and the small
correctness items (in-batch replays, LIKE wildcards). SQLite and PostgreSQL.
"""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

LIMIT = 64_000
JSON = {"Content-Type": "application/json"}
METER = {"name": "m", "event_name": "api.call", "aggregation": {"type": "count"}}


def app_client(store, **settings) -> TestClient:
    app = create_app(store, Settings(database_url=store.url, **{"max_body_bytes": LIMIT, **settings}))
    return TestClient(app)


@pytest.fixture()
def api(store):
    token, _ = store.create_key("rw", "test_mode")
    client = app_client(store)
    client.headers["Authorization"] = f"Bearer {token}"
    client.store = store
    return client


def _too_large(r) -> None:
    assert r.status_code == 413, r.text
    err = r.json()
    assert err["code"] == "payload_too_large" and err["field"] == "body"
    assert "MB_MAX_BODY_BYTES" in err["message"] and f"{LIMIT:,}" in err["message"]


def _chunks(data: bytes):
    for i in range(0, len(data), 8192):
        yield data[i:i + 8192]


# ---------------------------------------------------------------------------------------------
# Body size on every route, before authentication and before any parser
# ---------------------------------------------------------------------------------------------
BIG_METER = orjson.dumps({**METER, "description": "x" * (2 * LIMIT)})
ROUTES = [("POST", "/v1/meters"), ("POST", "/meters"), ("PATCH", "/v1/meters/mtr_x"), ("PATCH", "/meters/mtr_x"),
          ("POST", "/v1/events/ingest"), ("POST", "/v1/customers"), ("POST", "/v1/policy/check"),
          ("PUT", "/v1/policy"), ("POST", "/ui/login"), ("GET", "/v1/meters")]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("with_key", [False, True], ids=["no key", "key"])
def test_body_limit_comes_before_authentication_and_parsing_on_every_route(api, method, path, with_key):
    headers = dict(JSON) if with_key else {**JSON, "Authorization": ""}
    _too_large(api.request(method, path, content=BIG_METER, headers=headers))  # Content-Length
    _too_large(api.request(method, path, content=_chunks(BIG_METER), headers=headers))  # chunked, no length
    assert api.get("/v1/meters").json()["data"] == []


def test_a_body_at_the_limit_is_read_and_refused_by_the_domain_rule_instead(api):
    body = orjson.dumps({**METER, "description": "x" * 20_000})
    assert len(body) < LIMIT
    r = api.post("/v1/meters", content=body, headers=JSON)
    assert (r.status_code, r.json()["field"]) == (422, "description")
    assert "1000 characters" in r.json()["message"]


# ---------------------------------------------------------------------------------------------
# Every string and list of a meter definition is bounded, on the native and the Dodo routes
# ---------------------------------------------------------------------------------------------
def _cond(i=0, **kw):
    return {"key": "k", "operator": "equals", "value": i, **kw}


def _deep(levels):
    tree = {"clauses": [_cond()]}
    for _ in range(levels - 1):
        tree = {"clauses": [tree]}
    return tree


TOO_BIG = [
    # change to METER, field named, bound named in the message
    ({"name": "n" * 256}, "name", "255"),
    ({"event_name": "e" * 256}, "event_name", "255"),
    ({"description": "d" * 1001}, "description", "1000"),
    ({"measurement_unit": "u" * 65}, "measurement_unit", "64"),
    ({"aggregation": {"type": "sum", "key": "k" * 129}}, "aggregation.key", "128"),
    ({"filter": {"clauses": [_cond(key="k" * 129)]}}, "filter.clauses[0].key", "128"),
    ({"filter": {"clauses": [_cond("v" * 4097)]}}, "filter.clauses[0].value", "4096"),
    ({"filter": {"clauses": [_cond(operator="in", value=list(range(1001)))]}}, "filter.clauses[0].value", "1000"),
    ({"filter": {"clauses": [_cond(i) for i in range(101)]}}, "filter.clauses", "100"),
    ({"filter": {"clauses": [{"conjunction": "or", "clauses": [_cond(i) for i in range(100)]}] * 2}},
     "filter.clauses[1].clauses", "200"),
    ({"filter": _deep(6)}, "filter" + ".clauses[0]" * 5, "5 levels"),
]


@pytest.mark.parametrize("prefix", ["/v1", ""], ids=["native", "dodo"])
@pytest.mark.parametrize("change, field, bound", TOO_BIG, ids=[c[1] + ":" + c[2] for c in TOO_BIG])
def test_meter_definition_bounds_name_the_field_and_the_bound(api, prefix, change, field, bound):
    r = api.post(f"{prefix}/meters", json={**METER, **change})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and bound in r.json()["message"], r.json()
    assert api.get("/v1/meters").json()["data"] == []


@pytest.mark.parametrize("prefix", ["/v1", ""], ids=["native", "dodo"])
def test_meter_label_updates_are_bounded_too(api, prefix):
    mid = api.post("/v1/meters", json=METER).json()["id"]
    for change, field in [({"description": "d" * 1001}, "description"), ({"name": "n" * 256}, "name"),
                          ({"measurement_unit": "u" * 65}, "measurement_unit")]:
        r = api.patch(f"{prefix}/meters/{mid}", json=change)
        assert (r.status_code, r.json()["field"]) == (422, field), r.text
    ok = api.patch(f"{prefix}/meters/{mid}", json={"description": "d" * 1000})
    assert ok.status_code == 200 and len(ok.json()["description"]) == 1000


def test_largest_meter_definition_within_every_bound_is_accepted(api):
    body = {"name": "n" * 255, "event_name": "e" * 255, "description": "d" * 1000, "measurement_unit": "u" * 64,
            "aggregation": {"type": "sum", "key": "k" * 128},
            "filter": {"clauses": [{"key": "k" * 128, "operator": "in", "value": list(range(1000))},
                                   {"key": "t", "operator": "equals", "value": "v" * 4096}]}}
    r = api.post("/v1/meters", json=body)
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------------------------------------
# Failed authentication is rate-limited per client address
# ---------------------------------------------------------------------------------------------
def test_invalid_tokens_are_rate_limited_per_address_before_any_lookup(store, monkeypatch):
    token, _ = store.create_key("rw", "test_mode")
    client = app_client(store, auth_failure_burst=5, auth_failure_rps=0.001)
    bad = {"Authorization": "Bearer mb_test_" + "0" * 64}
    assert [client.get("/v1/meters", headers=bad).status_code for _ in range(5)] == [401] * 5
    lookups = []
    real = store.find_key
    monkeypatch.setattr(store, "find_key", lambda t: lookups.append(t) or real(t))
    r = client.get("/v1/meters", headers=bad)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    assert "failed authentications from this address" in r.json()["message"]
    assert lookups == []  # refused before the key table is read
    ok = client.get("/v1/meters", headers={"Authorization": f"Bearer {token}"})  # unverified token: refused too
    assert ok.status_code == 429
    # a missing header is not a failed token, and another address has its own bucket
    other = TestClient(client.app, client=("10.9.8.7", 5000))
    assert other.get("/v1/meters", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_verified_key_keeps_working_while_its_address_is_limited(store):
    token, _ = store.create_key("rw", "test_mode")
    client = app_client(store, auth_failure_burst=2, auth_failure_rps=0.001)
    good = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/meters", headers=good).status_code == 200  # verified: cached for 5 s
    for _ in range(3):
        client.get("/v1/meters", headers={"Authorization": "Bearer nope"})
    assert client.get("/v1/meters", headers=good).status_code == 200


def test_failed_dashboard_logins_are_rate_limited_per_address(store, monkeypatch):
    monkeypatch.setenv("MB_SECRET_KEY", "bounds-test-secret-" + "x" * 32)
    token, _ = store.create_key("ui", "test_mode")
    browser = app_client(store, auth_failure_burst=3, auth_failure_rps=0.001)
    browser.follow_redirects = False
    wrong = {"api_key": "mb_test_" + "0" * 64, "next": "/ui"}
    assert [browser.post("/ui/login", data=wrong).status_code for _ in range(3)] == [401] * 3
    assert browser.post("/ui/login", data={"api_key": "", "next": "/ui"}).status_code == 401  # no key: not charged
    lookups = []
    real = store.find_key
    monkeypatch.setattr(store, "find_key", lambda t: lookups.append(t) or real(t))
    r = browser.post("/ui/login", data=wrong)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Too many failed logins" in r.text and "mb_session" not in browser.cookies
    right = browser.post("/ui/login", data={"api_key": token, "next": "/ui"})
    assert right.status_code == 429 and lookups == []  # refused before the key table is read, even a good key
    # the bucket is the API's failed-authentication bucket of this address
    assert browser.get("/v1/meters", headers={"Authorization": "Bearer mb_test_" + "1" * 64}).status_code == 429
    other = TestClient(browser.app, client=("10.9.8.7", 5000))  # another address logs in
    other.follow_redirects = False
    assert other.post("/ui/login", data={"api_key": token, "next": "/ui"}).status_code == 303
    unlimited = app_client(store, auth_failure_burst=0)  # 0 disables the limit
    unlimited.follow_redirects = False
    assert {unlimited.post("/ui/login", data=wrong).status_code for _ in range(5)} == {401}


# ---------------------------------------------------------------------------------------------
# Dashboard logout ends the session on the server
# ---------------------------------------------------------------------------------------------
def test_logout_revokes_a_copied_session_cookie(store, monkeypatch):
    monkeypatch.setenv("MB_SECRET_KEY", "bounds-test-secret-" + "x" * 32)
    token, _ = store.create_key("ui", "test_mode")
    browser = app_client(store)
    browser.follow_redirects = False
    assert browser.post("/ui/login", data={"api_key": token, "next": "/ui"}).status_code == 303
    cookie = browser.cookies.get("mb_session")
    thief = app_client(store)
    thief.follow_redirects = False
    thief.cookies.set("mb_session", cookie, path="/ui")
    assert thief.get("/ui").status_code == 200
    assert browser.post("/ui/logout").status_code == 303
    assert browser.get("/ui").status_code == 303
    assert thief.get("/ui").status_code == 303  # the copy stopped working with the logout
    again = app_client(store)  # another worker or a restart: the revocation is in the database
    again.follow_redirects = False
    again.cookies.set("mb_session", cookie, path="/ui")
    assert again.get("/ui").status_code == 303
    assert browser.post("/ui/login", data={"api_key": token, "next": "/ui"}).status_code == 303
    assert browser.get("/ui").status_code == 200  # logging in again is a new session


# ---------------------------------------------------------------------------------------------
# Small correctness items
# ---------------------------------------------------------------------------------------------
def test_in_batch_copies_of_a_conflicting_event_are_conflicts_only(api):
    ev = {"event_id": "e1", "customer_id": "c", "event_name": "api.call", "timestamp": "2025-01-21T10:30:00Z",
          "metadata": {"n": "1"}}
    assert api.post("/v1/events/ingest", json={"events": [ev]}).json()["ingested_count"] == 1
    other = {**ev, "metadata": {"n": "2"}}
    r = api.post("/v1/events/ingest", json={"events": [other, other]}).json()
    assert (r["conflicts"], r["duplicates"], r["ingested_count"]) == (["e1", "e1"], [], 0)  # not a duplicate too
    r = api.post("/v1/events/ingest", json={"events": [other, other, ev]}).json()
    assert (r["conflicts"], r["duplicates"], r["ingested_count"]) == (["e1", "e1"], ["e1"], 0)
    new = {**ev, "event_id": "e2"}
    r = api.post("/v1/events/ingest", json={"events": [new, {**new, "metadata": {"n": "9"}}, new]}).json()
    assert (r["ingested_count"], r["duplicates"], r["conflicts"]) == (1, ["e2"], ["e2"])


def test_customer_name_search_treats_like_wildcards_literally(api):
    for cid, name in [("c1", "Ada"), ("c2", "50% off"), ("c3", "a_b"), ("c4", "axb")]:
        assert api.post("/v1/customers", json={"id": cid, "email": f"{cid}@example.com", "name": name}).status_code == 201
    names = lambda q: sorted(c["name"] for c in api.get("/customers", params={"name": q}).json()["items"])  # noqa: E731
    assert names("%") == ["50% off"]
    assert names("_") == ["a_b"]
    assert names("a_") == ["a_b"]
    assert names("AD") == ["Ada"]
