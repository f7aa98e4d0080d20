"""Dashboard server side, in process (no browser): sessions, modes, empty states, providers, helpers."""

from __future__ import annotations

import os
import re
import stat
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.dashboard.session import COOKIE, SessionData, Signer, load_secret
from meterbase.dashboard.views import chart_payload, fmt_num, percent, rejection_reason, resolve_range
from meterbase.errors import ValidationError
from meterbase.storage import open_store

SECRET = "unit-test-secret-" + "x" * 32


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MB_SECRET_KEY", SECRET)
    store = open_store(f"sqlite:///{tmp_path}/ui.db")
    test_key, test_meta = store.create_key("ui", "test_mode")
    live_key, _ = store.create_key("ui-live", "live_mode")
    app = create_app(store, Settings(database_url=store.url))
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    yield {"client": client, "store": store, "test_key": test_key, "live_key": live_key, "test_id": test_meta.id}
    store.close()


def login(client, key, next_="/ui"):
    return client.post("/ui/login", data={"api_key": key, "next": next_})


def ingest(store, events, environment="test_mode"):
    return store.ingest(environment, events)


def ev(i, customer="cus_a", name="api.call", **meta):
    return {"event_id": f"e{i}", "customer_id": customer, "event_name": name, "metadata": meta}


def test_pages_need_a_session_and_json_endpoints_answer_401(env):
    c = env["client"]
    r = c.get("/ui/meters?archived=true")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Fmeters%3Farchived%3Dtrue"
    r = c.get("/ui/api/meters/mtr_x/usage")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert c.get("/").headers["location"] == "/ui"
    assert c.get("/ui/login").status_code == 200


def test_login_sets_a_signed_httponly_lax_cookie_without_the_token(env):
    c = env["client"]
    r = login(c, "mb_test_wrong")
    assert r.status_code == 401 and "not valid" in r.text and COOKIE not in r.headers.get("set-cookie", "")
    r = login(c, env["test_key"], "/ui/events")
    assert r.status_code == 303 and r.headers["location"] == "/ui/events"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    assert env["test_key"] not in cookie  # only the key id travels, signed
    assert c.get("/ui").status_code == 200


def test_next_is_never_an_open_redirect(env):
    for evil in ("https://evil.example/", "//evil.example/ui", "/\\evil.example"):
        assert login(env["client"], env["test_key"], evil).headers["location"] == "/ui"


def test_tampered_expired_and_revoked_sessions_are_refused(env):
    c, store = env["client"], env["store"]
    login(c, env["test_key"])
    good = c.cookies.get(COOKIE)
    payload, mac = good.split(".")
    c.cookies.set(COOKIE, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac, path="/ui")
    assert c.get("/ui").status_code == 303
    c.cookies.set(COOKIE, good, path="/ui")
    assert c.get("/ui").status_code == 200
    signer = Signer(SECRET.encode())
    assert signer.loads(signer.dumps(SessionData({"test_mode": "k"}, "test_mode", 100, "s" * 24)), now=99) is not None
    assert signer.loads(signer.dumps(SessionData({"test_mode": "k"}, "test_mode", 100, "s" * 24)), now=101) is None
    assert Signer(b"other" * 8).loads(good) is None
    store.revoke_key(env["test_id"])  # revocation ends the session at once (ids are re-checked)
    assert c.get("/ui").status_code == 303


def test_cross_origin_login_post_is_refused(env):
    r = env["client"].post("/ui/login", data={"api_key": env["test_key"]}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 401 and "another origin" in r.text and COOKIE not in r.headers.get("set-cookie", "")


def test_mode_switch_needs_a_key_of_that_mode_and_data_never_crosses(env):
    c, store = env["client"], env["store"]
    ingest(store, [ev(1, customer="cus_test_only")])
    login(c, env["test_key"])
    assert "cus_test_only" in c.get("/ui/customers").text
    r = c.post("/ui/mode", data={"mode": "live_mode", "next": "/ui/customers"})
    assert r.headers["location"] == "/ui/login?mode=live_mode&next=%2Fui%2Fcustomers"
    assert "no live mode key" in c.get(r.headers["location"]).text
    login(c, env["live_key"], "/ui/customers")  # adds live mode to the same session
    page = c.get("/ui/customers").text
    assert "cus_test_only" not in page and 'data-empty="no-customers"' in page
    assert c.get("/ui/customers/cus_test_only").status_code == 404
    r = c.post("/ui/mode", data={"mode": "test_mode", "next": "/ui/customers"})
    assert r.headers["location"] == "/ui/customers"
    assert "cus_test_only" in c.get("/ui/customers").text


def test_empty_states_tell_a_new_user_what_to_do(env):
    c = env["client"]
    login(c, env["test_key"])
    overview = c.get("/ui").text
    assert "No events yet in test mode" in overview and "/v1/events/ingest" in overview
    assert "No meters yet" in overview and "No invoices yet" in overview
    assert 'data-empty="no-meters"' in c.get("/ui/meters").text
    assert 'data-empty="no-events"' in c.get("/ui/events").text
    assert "create a product and subscribe a customer" in c.get("/ui/invoices").text
    assert 'data-empty="no-products"' in c.get("/ui/products").text
    assert c.get("/ui/invoices/inv_1").status_code == 404
    assert c.get("/ui/meters/mtr_nope").status_code == 404


def test_meter_page_and_usage_endpoint_agree_with_the_api(env):
    c, store = env["client"], env["store"]
    meter = store.create_meter("test_mode", {"name": "Tokens", "event_name": "ai", "measurement_unit": "tokens",
                                             "aggregation": {"type": "sum", "key": "tokens"}})
    ingest(store, [ev(1, "cus_a", "ai", tokens="10", model="x"), ev(2, "cus_b", "ai", tokens="2.5", model="y"),
                   ev(3, "cus_b", "ai", tokens="n/a", model="y")])
    login(c, env["test_key"])
    html = c.get(f"/ui/meters/{meter.id}").text
    assert 'data-points="31"' in html and 'data-window="day"' in html
    doc = c.get(f"/ui/api/meters/{meter.id}/usage", params={"window": "hour", "range": "24h"}).json()
    api = c.get(f"/v1/meters/{meter.id}/usage", params={"from": doc["from"], "to": doc["to"], "window": "hour"},
                headers={"Authorization": f"Bearer {env['test_key']}"}).json()
    assert doc["data"] == api["data"]
    assert len(doc["chart"]["labels"]) == len(api["data"][0]["windows"]) == 25
    assert doc["chart"]["series"][0]["total"] == "12.5"
    assert [r["rejected"] for r in doc["data"]] == [0, 1]
    grouped = c.get(f"/ui/api/meters/{meter.id}/usage", params={"group_by": "model"}).json()
    assert [s["label"] for s in grouped["chart"]["series"]] == ["model=x", "model=y"]
    bad = c.get(f"/ui/api/meters/{meter.id}/usage", params={"window": "minute", "range": "90d"})
    assert bad.status_code == 422 and "more than 20,000 points" in bad.json()["message"]
    # the page falls back to the default view and says why
    assert "more than 20,000 points" in c.get(f"/ui/meters/{meter.id}?window=minute&range=90d").text
    rejected = c.get(f"/ui/events?meter_id={meter.id}&rejected=1").text
    assert rejected.count('class="rejected"') == 1 and "&#39;tokens&#39; is not a number" in rejected


def test_customer_page_figure_is_the_month_value(env):
    c, store = env["client"], env["store"]
    meter = store.create_meter("test_mode", {"name": "Calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    ingest(store, [ev(i, "cus_a") for i in range(1000)])
    ingest(store, [ev(i, "cus_a") for i in range(1000, 1234)])
    login(c, env["test_key"])
    html = c.get("/ui/customers/cus_a").text
    assert re.search(rf'data-meter-id="{meter.id}"', html)
    assert 'data-value="1234">1,234</span>' in html


def test_user_input_is_escaped(env):
    c, store = env["client"], env["store"]
    ingest(store, [ev(1, customer="<script>alert(1)</script>", tag="<b>x</b>")])
    login(c, env["test_key"])
    for path in ("/ui/customers", "/ui/events", "/ui/events?customer_id=%3Cscript%3E", "/ui"):
        body = c.get(path).text
        assert "<script>alert(1)</script>" not in body and "<b>x</b>" not in body


def test_static_files_are_served_and_contained(env):
    c = env["client"]
    r = c.get("/ui/static/vendor/chart.umd.min.js")
    assert r.status_code == 200 and "Chart.js v4.6.1" in r.text[:200] and "javascript" in r.headers["content-type"]
    assert c.get("/ui/static/dashboard.css").status_code == 200
    assert c.get("/ui/static/../routes.py").status_code == 404
    assert c.get("/ui/static/%2e%2e/routes.py").status_code == 404


def test_every_section_is_wired_and_a_missing_provider_stops_the_app(env):
    import types

    from meterbase.app import DASHBOARD_PROVIDERS
    from meterbase.app import create_app as assemble
    from meterbase.dashboard.providers import SECTIONS, ProviderError, load

    wired = load(DASHBOARD_PROVIDERS)
    assert set(DASHBOARD_PROVIDERS) == set(SECTIONS)
    assert wired.billing.__name__ == "meterbase.invoicing.dashboard_provider"
    settings = Settings(database_url=env["store"].url)
    with pytest.raises(ProviderError, match=r"'billing'.*'meterbase\.billing\.dashboard_provider' failed to import"):
        assemble(env["store"], settings, providers={**DASHBOARD_PROVIDERS, "billing": "meterbase.billing.dashboard_provider"})
    half = types.ModuleType("half_billing")
    half.list_invoices = lambda *a: None
    with pytest.raises(ProviderError, match="lacks get_invoice, accounts"):
        assemble(env["store"], settings, providers={**DASHBOARD_PROVIDERS, "billing": half})
    with pytest.raises(ProviderError, match=r"unwired sections \['sessions'\]"):
        load({k: v for k, v in DASHBOARD_PROVIDERS.items() if k != "sessions"})


def test_a_failing_section_says_so_instead_of_an_empty_state(env, monkeypatch):
    from meterbase.policy import dashboard_provider as policy_provider

    monkeypatch.setattr(policy_provider, "entitlements", lambda *a: 1 / 0)
    ingest(env["store"], [ev(1, customer="cus_a")])
    login(env["client"], env["test_key"])
    page = env["client"].get("/ui/customers/cus_a").text
    assert 'data-section-error="policy"' in page and "ZeroDivisionError" in page
    assert 'data-empty="no-entitlements"' not in page


def test_serve_refuses_to_start_without_a_provider(monkeypatch):
    from typer.testing import CliRunner

    from meterbase import app as root
    from meterbase.cli.main import app

    monkeypatch.setitem(root.DASHBOARD_PROVIDERS, "billing", "meterbase.nope.dashboard_provider")
    r = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert r.exit_code == 2 and "error (dashboard): dashboard section 'billing'" in r.output
    assert "meterbase.nope.dashboard_provider" in r.output and "Traceback" not in r.output


def test_secret_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("MB_SECRET_KEY", raising=False)
    path = tmp_path / "var" / "secret_key"
    monkeypatch.setenv("MB_SECRET_FILE", str(path))
    first = load_secret()
    assert len(first) == 64 and load_secret() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    monkeypatch.setenv("MB_SECRET_KEY", "from-env")
    assert load_secret() == b"from-env"


def test_view_helpers():
    assert fmt_num("1234567.891") == "1,234,567.891" and fmt_num(None) == "–" and fmt_num("-1000") == "-1,000"
    assert fmt_num(Decimal("12.50")) == "12.5" and fmt_num("0") == "0" and fmt_num("1234.50") == "1,234.50"
    assert fmt_num("1e3") == "1,000" and fmt_num("abc") == "abc"
    assert percent("80", "100") == 80 and percent("150", "100") == 100 and percent("1", None) is None
    now = 1_700_000_000_000_000
    frm, to, rk = resolve_range(now, "hour", "24h")
    assert to % 60_000_000 == 0 and to - frm == 24 * 3600 * 1_000_000 and rk == "24h"
    assert resolve_range(now, "day", None)[2] == "30d"
    assert resolve_range(now, "day", "7d", "2025-01-01T00:00", "2025-01-02")[2] == "custom"
    with pytest.raises(ValidationError):
        resolve_range(now, "minute", "90d")
    with pytest.raises(ValidationError):
        resolve_range(now, "fortnight", "7d")


def test_chart_series_merge_customers_exactly(store):
    m = store.create_meter("test_mode", {"name": "avg", "event_name": "x", "measurement_unit": "ms",
                                         "aggregation": {"type": "avg", "key": "v"}})
    store.ingest("test_mode", [
        {"event_id": "a", "customer_id": "c1", "event_name": "x", "timestamp": "2025-01-01T10:00:00Z", "metadata": {"v": 1}},
        {"event_id": "b", "customer_id": "c2", "event_name": "x", "timestamp": "2025-01-01T10:00:00Z", "metadata": {"v": 2}},
        {"event_id": "c", "customer_id": "c2", "event_name": "x", "timestamp": "2025-01-01T10:00:00Z", "metadata": {"v": 6}},
    ])
    u = store.usage("test_mode", m.id, 1735725600_000_000, 1735732800_000_000, "hour")
    chart = chart_payload(u)
    assert chart["series"][0]["values"] == ["3", None]  # avg of 1, 2, 6 — not the avg of the customers' avgs
    assert rejection_reason(m, {"v": "x"}) == "'v' is not a number" and rejection_reason(m, {"v": 3}) is None
