"""Scoped access: API keys (random, SHA-256 only, shown once, revocable, mode-scoped, read-only),
customer portal tokens that only read their own customer, per-key rate limits, and the audit log."""

from __future__ import annotations

import hashlib
import re

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from meterbase.api import create_app
from meterbase.api.ratelimit import RateLimiter
from meterbase.cli.main import app as cli
from meterbase.config import Settings
from meterbase.storage import audit, keys_repo
from meterbase.storage.schema import api_keys, audit_log, portal_tokens

ENV = "test_mode"


def client(store, token: str | None = None, **settings) -> TestClient:
    app = create_app(store, Settings(database_url=store.url, **settings))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"} if token else {})


def ok(c: TestClient, method: str, path: str, status: int = 200, **kw):
    r = c.request(method, path, **kw)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def ev(i, customer, **kw):
    return {"event_id": f"{customer}-{i}", "customer_id": customer, "event_name": "api.call",
            "timestamp": "2025-01-21T10:30:00Z", "metadata": {"tokens": str(10 * (i + 1))}, **kw}


# -- API keys ----------------------------------------------------------------------------------------
def test_api_keys_are_random_stored_as_sha256_only_and_mode_scoped(store):
    tokens = [store.create_key(f"k{i}", ENV)[0] for i in range(3)]
    live, _ = store.create_key("live", "live_mode")
    assert all(re.fullmatch(r"mb_test_[A-Za-z0-9_-]{43}", t) for t in tokens)  # 256 random bits each
    assert re.fullmatch(r"mb_live_[A-Za-z0-9_-]{43}", live) and len(set(tokens)) == 3
    with store.read() as conn:
        rows = conn.execute(select(api_keys)).all()
    stored = " ".join(str(v) for row in rows for v in row)
    assert not any(t in stored or t[14:] in stored for t in tokens + [live])  # only the 14-char prefix is kept
    assert {r.key_hash for r in rows} == {hashlib.sha256(t.encode()).hexdigest() for t in tokens + [live]}

    test_c, live_c = client(store, tokens[0]), client(store, live)
    ok(test_c, "POST", "/v1/events/ingest", json={"events": [ev(1, "cus_a")]})
    assert ok(live_c, "GET", "/v1/events")["data"] == []  # data never crosses modes
    assert ok(live_c, "GET", "/v1/events/cus_a-1", 404)["code"] == "not_found"
    assert ok(test_c, "GET", "/v1/me")["environment"] == ENV and ok(live_c, "GET", "/v1/me")["environment"] == "live_mode"


def test_revoked_and_read_only_keys(store):
    token, key = store.create_key("gone", ENV)
    ro, _ = store.create_key("ro", ENV, read_only=True)
    c = client(store, token)
    ok(c, "GET", "/v1/meters")
    store.revoke_key(key.id)
    fresh = client(store, token)  # a new process (no 5-second key cache)
    assert ok(fresh, "GET", "/v1/meters", 401)["code"] == "unauthorized"
    r = client(store, ro).post("/v1/events/ingest", json={"events": [ev(1, "cus_a")]})
    assert r.status_code == 403 and "read-only" in r.json()["message"]
    assert client(store, ro).post("/v1/portal-tokens", json={"customer_id": "cus_a"}).status_code == 403


def test_cli_shows_the_token_once_and_stores_its_digest(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    r = CliRunner().invoke(cli, ["keys", "create", "--name", "ci", "--db", db])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("mb_test_")
    listed = CliRunner().invoke(cli, ["keys", "list", "--db", db]).output
    assert "ci" in listed and token not in listed and token[8:] not in listed


# -- portal tokens -------------------------------------------------------------------------------------
@pytest.fixture()
def billing_world(store):
    """Two customers with usage, a subscription and an invoice each, a policy; plus a portal token for cus_a."""
    token, _ = store.create_key("admin", ENV)
    admin = client(store, token)
    meter = ok(admin, "POST", "/v1/meters", 201, json={"name": "tokens", "event_name": "api.call",
                                                       "aggregation": {"type": "sum", "key": "tokens"}})["id"]
    ok(admin, "POST", "/v1/events/ingest", json={"events": [ev(i, c) for c in ("cus_a", "cus_b") for i in range(3)]})
    product = ok(admin, "POST", "/v1/products", 201, json={"name": "p", "currency": "USD", "fixed_fee": "10",
                                                             "meters": [{"meter_id": meter, "price_per_unit": "0.5"}]})["id"]
    subs, invoices = {}, {}
    for c in ("cus_a", "cus_b"):
        ok(admin, "POST", "/v1/customers", 201, json={"id": c, "email": f"{c}@example.com", "name": c})
        subs[c] = ok(admin, "POST", "/v1/subscriptions", 201,
                     json={"customer_id": c, "product_id": product, "start": "2025-01-01T00:00:00Z"})["id"]
        invoices[c] = ok(admin, "POST", f"/v1/subscriptions/{subs[c]}/invoices", 201,
                         json={"at": "2025-01-15T00:00:00Z"})["id"]
    policy = ("policy:\n  credits:\n    call: {pricing_model: flat, price: {amount: 0.01}}\n"
              "  plans:\n    free:\n      period: monthly\n      default: true\n      entitlements:\n"
              "        calls:\n          limit: {credit: call, mode: hard, value: 100, resets: true}\n")
    ok(admin, "PUT", "/v1/policy", content=policy, headers={"Content-Type": "application/yaml"})
    for c in ("cus_a", "cus_b"):
        ok(admin, "POST", "/v1/policy/customers", json={"customer_id": c})
    created = ok(admin, "POST", "/v1/portal-tokens", 201, json={"customer_id": "cus_a", "name": "cus_a portal"})
    return {"admin": admin, "meter": meter, "subs": subs, "invoices": invoices, "portal": created,
            "as_portal": client(store, created["token"]), "store": store}


def test_portal_token_reads_only_its_customers_usage_entitlements_and_invoices(billing_world):
    w = billing_world
    p, meter, subs, invoices = w["as_portal"], w["meter"], w["subs"], w["invoices"]
    assert w["portal"]["token"].startswith("mb_portal_") and w["portal"]["customer_id"] == "cus_a"
    assert ok(p, "GET", "/v1/me") == {"object": "portal_token", "id": w["portal"]["id"], "name": "cus_a portal",
                                     "environment": ENV, "read_only": True, "customer_id": "cus_a"}
    q = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z", "window": "month"}

    # its own customer: usage (customer_id implied or explicit), entitlements, invoices
    for params in (q, {**q, "customer_id": "cus_a"}, {**q, "group_by": "tokens"}):
        rows = ok(p, "GET", f"/v1/meters/{meter}/usage", params=params)["data"]
        assert rows and {r["customer_id"] for r in rows} == {"cus_a"}
    assert ok(p, "GET", "/v1/policy/customers/cus_a/entitlements/calls")["customer_id"] == "cus_a"
    for suffix in ("remaining", "value", "limit"):
        ok(p, "GET", f"/v1/policy/customers/cus_a/entitlements/calls/{suffix}")
    ok(p, "GET", "/v1/policy/customers/cus_a")
    assert [i["id"] for i in ok(p, "GET", "/v1/invoices")["data"]] == [invoices["cus_a"]]
    assert ok(p, "GET", f"/v1/invoices/{invoices['cus_a']}")["customer_id"] == "cus_a"
    assert [s["id"] for s in ok(p, "GET", "/v1/subscriptions")["data"]] == [subs["cus_a"]]
    ok(p, "GET", f"/v1/subscriptions/{subs['cus_a']}")
    ok(p, "GET", f"/v1/subscriptions/{subs['cus_a']}/upcoming-invoice", params={"at": "2025-01-20T00:00:00Z"})

    # another customer's data: 403 when asked by customer id, 404 when asked by an object's id
    assert ok(p, "GET", f"/v1/meters/{meter}/usage", 403, params={**q, "customer_id": "cus_b"})["field"] == "customer_id"
    ok(p, "GET", "/v1/policy/customers/cus_b/entitlements/calls", 403)
    ok(p, "GET", "/v1/policy/customers/cus_b/entitlements/calls/remaining", 403)
    ok(p, "GET", "/v1/policy/customers/cus_b", 403)
    ok(p, "GET", "/v1/invoices", 403, params={"customer_id": "cus_b"})
    ok(p, "GET", "/v1/subscriptions", 403, params={"customer_id": "cus_b"})
    assert ok(p, "GET", f"/v1/invoices/{invoices['cus_b']}", 404)["code"] == "not_found"
    ok(p, "GET", f"/v1/subscriptions/{subs['cus_b']}", 404)
    ok(p, "GET", f"/v1/subscriptions/{subs['cus_b']}/upcoming-invoice", 404)
    assert not any(i["customer_id"] == "cus_b" for i in ok(p, "GET", "/v1/invoices", params={"subscription_id": subs["cus_b"]})["data"])

    # every other route: 403 (reads of other data, and all writes)
    for method, path in [
        ("GET", "/v1/events"), ("GET", "/v1/events/cus_a-1"), ("GET", "/v1/meters"), ("GET", f"/v1/meters/{meter}"),
        ("POST", "/v1/events/ingest"), ("POST", "/v1/meters"), ("POST", f"/v1/meters/{meter}/archive"),
        ("GET", "/v1/customers"), ("GET", "/v1/customers/cus_a"), ("GET", "/v1/products"), ("POST", "/v1/invoices/run"),
        ("POST", f"/v1/invoices/{invoices['cus_a']}/void"), ("GET", "/v1/policy"), ("POST", "/v1/policy/check"),
        ("POST", "/v1/policy/allow"), ("PUT", "/v1/policy/customers/cus_a/plan"), ("GET", "/v1/audit"),
        ("GET", "/v1/portal-tokens"), ("POST", "/v1/portal-tokens"), ("GET", "/events"), ("GET", "/meters"),
        ("POST", "/events/ingest"), ("GET", "/customers"), ("GET", "/subscriptions"),
    ]:
        r = p.request(method, path, json={})
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (method, path, r.status_code, r.text)
    # nothing it tried changed anything
    assert ok(w["admin"], "GET", "/v1/invoices", params={"status": "void"})["data"] == []


def test_portal_tokens_are_hashed_revocable_expiring_mode_scoped_and_not_dashboard_logins(billing_world):
    w = billing_world
    store, token = w["store"], w["portal"]["token"]
    with store.read() as conn:
        row = conn.execute(select(portal_tokens)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in " ".join(map(str, row))
    listed = ok(w["admin"], "GET", "/v1/portal-tokens")["data"]
    assert [t["id"] for t in listed] == [w["portal"]["id"]] and "token" not in listed[0]

    # a live_mode key cannot see (or revoke) test_mode tokens; a live_mode customer of the same id is unreachable
    live, _ = store.create_key("live", "live_mode")
    assert ok(client(store, live), "GET", "/v1/portal-tokens")["data"] == []
    ok(client(store, live), "POST", f"/v1/portal-tokens/{w['portal']['id']}/revoke", 404)
    assert ok(w["as_portal"], "GET", f"/v1/meters/{w['meter']}/usage")["data"] != []
    # the dashboard login only takes API keys
    login = client(store).post("/ui/login", data={"api_key": token, "next": "/ui"},
                               headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert login.status_code == 401

    ok(w["admin"], "POST", f"/v1/portal-tokens/{w['portal']['id']}/revoke")
    assert ok(client(store, token), "GET", "/v1/me", 401)["code"] == "unauthorized"  # new process: no cache
    ok(w["admin"], "POST", f"/v1/portal-tokens/{w['portal']['id']}/revoke", 404)  # already revoked

    now = store.now()
    with store.write() as conn:  # created two hours ago, expired an hour ago
        expired, _ = keys_repo.create_portal_token(conn, ENV, "cus_a", now - 7_200_000_000, "old", now - 3_600_000_000)
    ok(client(store, expired), "GET", "/v1/me", 401)
    bad = w["admin"].post("/v1/portal-tokens", json={"customer_id": "cus_a", "expires_at": "2000-01-01T00:00:00Z"})
    assert bad.status_code == 422 and bad.json()["field"] == "expires_at"
    assert w["admin"].post("/v1/portal-tokens", json={"customer_id": ""}).json()["field"] == "customer_id"


def test_cli_portal_token(tmp_path):
    db = f"sqlite:///{tmp_path}/portal.db"
    r = CliRunner().invoke(cli, ["keys", "portal", "--customer", "cus_9", "--env", "live_mode", "--db", db])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("mb_portal_")
    from meterbase.storage import open_store

    store = open_store(db)
    try:
        with store.read() as conn:
            [tok] = keys_repo.list_portal_tokens(conn)
            assert keys_repo.find_portal_token(conn, token, store.now()) == tok
        assert (tok.customer_id, tok.environment) == ("cus_9", "live_mode")
        assert "portal tokens" in CliRunner().invoke(cli, ["keys", "list", "--db", db]).output
        assert CliRunner().invoke(cli, ["keys", "revoke", tok.id, "--db", db]).exit_code == 0
        with store.read() as conn:
            assert keys_repo.find_portal_token(conn, token, store.now()) is None
    finally:
        store.close()
    bad = CliRunner().invoke(cli, ["keys", "portal", "--customer", "c", "--expires", "soon", "--db", db])
    assert bad.exit_code == 2 and "expires" in bad.output


# -- rate limiting ---------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_rate_limit_per_key_429_with_retry_after(store):
    a, _ = store.create_key("a", ENV)
    b, _ = store.create_key("b", ENV)
    clock = FakeClock()
    c = client(store, a, rate_limit_rps=0.5, rate_limit_burst=3)
    c.app.state.rate_limiter = RateLimiter(0.5, 3, clock=clock)
    for _ in range(3):
        ok(c, "GET", "/v1/meters")
    r = c.get("/v1/meters")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert r.headers["Retry-After"] == "2"  # one token back after 1 / 0.5 s
    r = c.post("/v1/events/ingest", json={"events": [ev(1, "cus_a")]})
    assert r.status_code == 429 and store.count_events(ENV) == 0  # refused before anything is done
    ok(c, "GET", "/v1/meters", headers={"Authorization": f"Bearer {b}"})  # another key: its own bucket
    clock.t += 2
    ok(c, "GET", "/v1/meters")
    assert c.get("/v1/meters").status_code == 429
    clock.t += 60  # refills up to the burst, not beyond
    for _ in range(3):
        ok(c, "GET", "/v1/meters")
    assert c.get("/v1/meters").status_code == 429


def test_rate_limit_settings_and_disabling(store, monkeypatch):
    monkeypatch.setenv("MB_RATE_LIMIT_RPS", "0")
    monkeypatch.setenv("MB_RATE_LIMIT_BURST", "7")
    s = Settings.from_env()
    assert (s.rate_limit_rps, s.rate_limit_burst) == (0.0, 7)
    assert Settings().rate_limit_rps >= 100 and Settings().rate_limit_burst >= 100  # generous defaults
    token, _ = store.create_key("a", ENV)
    c = client(store, token, rate_limit_rps=0, rate_limit_burst=1)
    assert all(c.get("/v1/me").status_code == 200 for _ in range(50))
    limiter = RateLimiter(10, 2, clock=FakeClock())
    assert [limiter.acquire("k") for _ in range(3)][:2] == [None, None] and limiter.acquire("k") == pytest.approx(0.1)


# -- audit log ---------------------------------------------------------------------------------------------
def test_audit_log_records_key_and_config_changes_with_their_actor(billing_world):
    w = billing_world
    admin, store = w["admin"], w["store"]
    admin_id = ok(admin, "GET", "/v1/me")["id"]
    meter = w["meter"]
    ok(admin, "POST", f"/v1/meters/{meter}/archive")
    ok(admin, "POST", f"/v1/meters/{meter}/unarchive")
    ok(admin, "PATCH", f"/v1/meters/{meter}", json={"name": "Tokens"})
    ok(admin, "POST", f"/v1/portal-tokens/{w['portal']['id']}/revoke")
    admin.post("/v1/meters", json={"name": "bad", "event_name": "x", "aggregation": {"type": "sum"}})  # refused: no entry
    entries = ok(admin, "GET", "/v1/audit")["data"]
    actions = [e["action"] for e in reversed(entries)]
    assert actions == ["api_key.created", "meter.created", "product.created", "customer.created", "subscription.created",
                       "customer.created", "subscription.created", "policy.replaced", "portal_token.created",
                       "meter.archived", "meter.unarchived", "meter.updated", "portal_token.revoked"], actions
    assert (entries[-1]["target"], entries[-1]["actor"]) == (admin_id, audit.SYSTEM)  # made by the fixture's store
    assert all(e["actor"] == admin_id and e["environment"] == ENV for e in entries[:-1])
    assert entries[0]["target"] == w["portal"]["id"] and entries[1]["details"] == {"name": "Tokens"}
    assert ok(admin, "GET", "/v1/audit", params={"action": "meter.archived"})["data"][0]["target"] == meter
    page = ok(admin, "GET", "/v1/audit", params={"limit": 4})
    rest = ok(admin, "GET", "/v1/audit", params={"before": page["next_before"]})["data"]
    assert [e["id"] for e in page["data"] + rest] == [e["id"] for e in entries]

    # keys are audited too, in the environment they belong to; other environments see nothing
    live, live_key = store.create_key("live", "live_mode")
    live_entries = ok(client(store, live), "GET", "/v1/audit")["data"]
    assert [(e["action"], e["target"]) for e in live_entries] == [("api_key.created", live_key.id)]


def test_audit_entry_commits_or_rolls_back_with_its_change(store):
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            keys_repo.create_key(conn, "doomed", ENV, store.now())
            raise RuntimeError("crash before commit")
    with store.read() as conn:
        assert conn.execute(select(api_keys)).all() == [] and conn.execute(select(audit_log)).all() == []
    with audit.acting_as("tester"):
        _, key = store.create_key("kept", ENV)
        store.revoke_key(key.id)
    with pytest.raises(Exception):
        store.revoke_key(key.id)  # not active any more: refused, and not audited
    with store.read() as conn:
        entries = audit.list_entries(conn, ENV)
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("api_key.revoked", "tester", key.id), ("api_key.created", "tester", key.id)]


def test_cli_actions_are_audited_and_listed(tmp_path):
    db = f"sqlite:///{tmp_path}/audit.db"
    runner = CliRunner()
    key_id = runner.invoke(cli, ["keys", "create", "--name", "ops", "--db", db]).output.split()[1]
    assert runner.invoke(cli, ["keys", "revoke", key_id, "--db", db]).exit_code == 0
    assert runner.invoke(cli, ["keys", "portal", "--customer", "cus_1", "--db", db]).exit_code == 0
    r = runner.invoke(cli, ["audit", "list", "--json", "--db", db])
    assert r.exit_code == 0, r.output
    entries = [orjson.loads(line) for line in r.output.strip().splitlines()]
    assert [e["action"] for e in entries] == ["portal_token.created", "api_key.revoked", "api_key.created"]
    assert all(e["actor"].startswith("cli") for e in entries) and entries[2]["target"] == key_id
    table = runner.invoke(cli, ["audit", "list", "--action", "api_key.created", "--db", db]).output
    assert key_id in table and "portal_token" not in table
    assert audit.current_actor() == audit.SYSTEM  # the CLI's actor does not leak past its command
