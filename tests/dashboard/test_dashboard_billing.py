"""The dashboard's billing pages in process, on every backend, over invoices made by a real invoice run:
amounts read off the HTML, finalize / void through the forms (CSRF, origin, read-only keys)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.dashboard.views import chart_payload
from support.clock import FakeClock

SECRET = "billing-ui-secret-" + "x" * 32
GPU_TIERS = [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
             {"up_to": None, "unit_price": "0.0003"}]


@pytest.fixture()
def billed(store, monkeypatch):
    """Seed 003/004's numbers: 2,500 calls − 1,000 free × $0.02 = $30.00; 40,000 GPU seconds = $13.98; fee $49.00."""
    monkeypatch.setenv("MB_SECRET_KEY", SECRET)
    clock = FakeClock(datetime(2025, 2, 10, 12, tzinfo=timezone.utc))
    store.clock = clock
    token, _ = store.create_key("rw", "test_mode")
    ro_token, _ = store.create_key("ro", "test_mode", read_only=True)
    app = create_app(store, Settings(database_url=store.url))
    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})

    def ok(method, path, status=200, **kw):
        r = api.request(method, path, **kw)
        assert r.status_code == status, r.text
        return r.json()

    calls = ok("POST", "/v1/meters", 201, json={"name": "API calls", "event_name": "api.call", "measurement_unit": "calls",
                                                 "aggregation": {"type": "count"}})["id"]
    gpu = ok("POST", "/v1/meters", 201, json={"name": "GPU time", "event_name": "gpu", "measurement_unit": "s",
                                               "aggregation": {"type": "sum", "key": "seconds"}})["id"]
    for lo in range(0, 2500, 1000):
        ok("POST", "/v1/events/ingest", json={"events": [
            {"event_id": f"c{i}", "customer_id": "cus_acme", "event_name": "api.call",
             "timestamp": "2025-01-10T00:00:00Z"} for i in range(lo, min(lo + 1000, 2500))]})
    ok("POST", "/v1/events/ingest", json={"events": [
        {"event_id": "g1", "customer_id": "cus_acme", "event_name": "gpu", "timestamp": "2025-01-12T00:00:00Z",
         "metadata": {"seconds": "40000"}},
        {"event_id": "g2", "customer_id": "cus_acme", "event_name": "gpu", "timestamp": "2025-02-03T00:00:00Z",
         "metadata": {"seconds": "7200"}}]})
    product = ok("POST", "/v1/products", 201, json={
        "name": "Pro", "currency": "USD", "fixed_fee": "49.00",
        "meters": [{"meter_id": calls, "price_per_unit": "0.02", "free_threshold": 1000},
                   {"meter_id": gpu, "price": {"model": "graduated", "tiers": GPU_TIERS}}]})["id"]
    ok("POST", "/v1/customers", 201, json={"id": "cus_acme", "name": "Acme Corp", "email": "ap@acme.example"})
    ok("POST", "/v1/customers", 201, json={"id": "cus_idle", "name": "Idle Ltd", "email": "idle@idle.example"})
    ok("POST", "/v1/subscriptions", 201, json={"customer_id": "cus_acme", "product_id": product,
                                                 "start": "2025-01-01T00:00:00Z"})
    ok("POST", "/v1/subscriptions", 201, json={"customer_id": "cus_idle", "product_id": product,
                                                 "start": "2025-01-01T00:00:00Z"})
    run = ok("POST", "/v1/invoices/run", json={})
    assert len(run["created"]) == 2
    ui = TestClient(app, base_url="http://testserver", follow_redirects=False)
    r = ui.post("/ui/login", data={"api_key": token, "next": "/ui"})
    assert r.status_code == 303
    acme = ok("GET", "/v1/invoices", params={"customer_id": "cus_acme"})["data"][0]
    return {"ui": ui, "api": ok, "app": app, "invoice": acme, "ro_token": ro_token, "clock": clock}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_invoices_list_filters_and_detail_show_the_computed_money(billed):
    ui, inv = billed["ui"], billed["invoice"]
    assert inv["total"] == "92.98"  # 49.00 + 30.00 + 13.98
    page = ui.get("/ui/invoices").text
    assert 'data-invoice-count="2"' in page
    assert f'data-invoice-id="{inv["id"]}"' in page and "$92.98" in page and "$49.00" in page and "Acme Corp" in page
    assert 'data-invoice-count="1"' in ui.get("/ui/invoices", params={"customer_id": "cus_idle"}).text
    assert 'data-invoice-count="2"' in ui.get("/ui/invoices", params={"status": "draft", "period": "2025-01"}).text
    assert "No invoice matches" in ui.get("/ui/invoices", params={"period": "2024-12"}).text
    assert "period must look like 2025-01" in ui.get("/ui/invoices", params={"period": "jan"}).text

    detail = ui.get(f"/ui/invoices/{inv['id']}").text
    plain = text(detail)
    assert "Acme Corp" in plain and "ap@acme.example" in plain and "Pro" in plain
    assert re.search(r"API calls .*? 2,500 calls 1,000 calls 1,500 calls \$0.02 \$30.00", plain)
    assert re.search(r"GPU time .*? 11 h 06 min 40 s 0 s 11 h 06 min 40 s \$13.98", plain)
    assert "tier 1 h 00 min – 10 h 00 min" in plain and "$11.34" in plain and "$1.44" in plain and "$1.20" in plain
    assert 'data-subtotal="92.98"' in detail and "Total $92.98" in plain
    assert 'data-status="draft"' in detail and 'id="finalize-button"' in detail


def test_finalize_and_void_need_the_sessions_token_same_origin_and_a_writing_key(billed):
    ui, inv = billed["ui"], billed["invoice"]
    url = f"/ui/invoices/{inv['id']}"
    csrf = re.search(r'name="csrf" value="([^"]+)"', ui.get(url).text).group(1)
    assert ui.post(url + "/finalize", data={}).status_code == 403  # no token
    assert ui.post(url + "/finalize", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert billed["api"]("GET", f"/v1/invoices/{inv['id']}")["status"] == "draft"
    done = ui.post(url + "/finalize", data={"csrf": csrf}, headers={"Origin": "http://testserver"})
    assert done.status_code == 303 and done.headers["location"] == url + "?done=finalized"
    page = ui.get(done.headers["location"]).text
    assert "Invoice finalized." in page and 'data-status="finalized"' in page and 'id="finalize-button"' not in page
    actor = billed["api"]("GET", "/v1/audit", params={"action": "invoice.finalized"})["data"][0]["actor"]
    assert actor.startswith("key_") and f"by {actor}" in page

    ro = TestClient(billed["app"], base_url="http://testserver", follow_redirects=False)
    ro.post("/ui/login", data={"api_key": billed["ro_token"]})
    page = ro.get(url).text
    assert "read-only key" in page and 'id="void-button"' not in page
    ro_csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert ro_csrf is None
    forged = ro.post(url + "/void", data={"csrf": "x"})
    assert forged.status_code == 403
    assert billed["api"]("GET", f"/v1/invoices/{inv['id']}")["status"] == "finalized"

    voided = ui.post(url + "/void", data={"csrf": csrf})
    assert voided.headers["location"] == url + "?done=void"
    assert billed["api"]("GET", f"/v1/invoices/{inv['id']}")["status"] == "void"
    assert 'data-status="void"' in ui.get(url).text


def test_customers_page_and_account_show_the_amount_due_so_far(billed):
    ui, api = billed["ui"], billed["api"]
    subs = api("GET", "/v1/subscriptions", params={"customer_id": "cus_acme"})["data"]
    upcoming = api("GET", f"/v1/subscriptions/{subs[0]['id']}/upcoming-invoice")
    # February so far: $49.00 + 7,200 GPU seconds (3,600 × 0.0004 + 3,600 × 0.00035 = $2.70); no calls yet
    assert upcoming["total"] == "51.70"
    page = ui.get("/ui/customers").text
    plain = text(page)
    assert "Acme Corp" in plain and "ap@acme.example" in plain and "2025-02-01 → 2025-03-01" in plain
    assert re.search(r'data-customer="cus_acme".*?data-amount="51.70">\$51.70<', page, re.S)
    assert re.search(r'data-customer="cus_idle".*?data-amount="49.00">\$49.00<', page, re.S)
    assert "Idle Ltd" in ui.get("/ui/customers", params={"search": "idle"}).text
    assert "Acme Corp" not in ui.get("/ui/customers", params={"search": "idle"}).text

    acct = ui.get("/ui/customers/cus_acme").text
    plain = text(acct)
    assert "Acme Corp" in plain and "ap@acme.example" in plain and "2025-02-01 00:00 → 2025-03-01 00:00 UTC" in plain
    assert 'data-upcoming-total="51.70"' in acct and "2 h 00 min" in plain
    assert billed["invoice"]["id"] in acct and "$92.98" in plain  # invoice history
    assert ui.get("/ui/customers/cus_nobody").status_code == 404


def test_products_page_and_overview_money(billed):
    ui = billed["ui"]
    plain = text(ui.get("/ui/products").text)
    assert "Pro" in plain and "$49.00" in plain and "$0.02 per unit" in plain and "first 1,000 calls free" in plain
    assert "0 s – 1 h 00 min $0.0004 per unit" in plain and "above 10 h 00 min $0.0003 per unit" in plain
    overview = ui.get("/ui").text
    tiles = text(overview)
    assert re.search(r"Billed last month \$141.98", tiles)  # 92.98 + 49.00 (Idle: the fee alone)
    assert re.search(r"Recurring fees \$98.00", tiles) and re.search(r"Usage revenue so far \$2.70", tiles)
    assert 'id="revenue-chart"' in overview and "$92.98" in overview  # recent invoices


def _usage(store, meter_id, customer=None):
    return store.usage("test_mode", meter_id, 1736467200_000_000, 1736553600_000_000, "day", "UTC", customer)


def test_an_all_customers_line_says_what_it_is(store):
    ev = [("cus_a", "3"), ("cus_a", "5"), ("cus_b", "10")]
    meters = {agg: store.create_meter("test_mode", {"name": agg, "event_name": "disk", "measurement_unit": "bytes",
                                                      "aggregation": {"type": agg, "key": "b"}})
              for agg in ("last", "max", "min", "sum", "avg")}
    store.ingest("test_mode", [{"event_id": f"e{i}", "customer_id": c, "event_name": "disk",
                                "timestamp": f"2025-01-10T0{i}:00:00Z", "metadata": {"b": v}} for i, (c, v) in enumerate(ev)])
    last = chart_payload(_usage(store, meters["last"].id))["series"]
    assert [(s["label"], s["values"]) for s in last] == [("All customers (sum of each customer's last value)", ["15"])]
    assert chart_payload(_usage(store, meters["max"].id))["series"][0]["values"] == ["15"]  # 5 + 10, not 10
    assert [s["label"] for s in chart_payload(_usage(store, meters["min"].id))["series"]] == ["cus_a", "cus_b"]
    assert chart_payload(_usage(store, meters["sum"].id))["series"][0] == {
        "label": "All customers (total)", "values": ["18"], "total": "18", "events": 3}
    assert chart_payload(_usage(store, meters["avg"].id))["series"][0]["values"] == ["6"]  # (3 + 5 + 10) / 3
    one = chart_payload(_usage(store, meters["last"].id, "cus_a"))["series"]
    assert [(s["label"], s["values"]) for s in one] == [("cus_a", ["5"])]
