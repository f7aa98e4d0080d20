"""The dashboard in process, on every backend: a customer whose usage cannot be priced never breaks a
page and is listed as needing attention (invoices page, its customer page); late usage shows per
period (invoiced vs now) and as an adjustment line on the next invoice."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from support.clock import FakeClock

SECRET = "attention-ui-secret-" + "x" * 32


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture()
def world(store, monkeypatch):
    """cus_good (calls at $0.02 past 1,000 free) and cus_bad (refunds larger than its payments), January
    billed and finalized on Feb 1st; then late January calls of cus_good arrive, and a February refund of
    cus_bad (its upcoming invoice cannot be priced either)."""
    monkeypatch.setenv("MB_SECRET_KEY", SECRET)
    clock = FakeClock(datetime(2025, 2, 1, 1, tzinfo=timezone.utc))
    store.clock = clock
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url))
    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})

    def ok(method, path, status=200, **kw):
        r = api.request(method, path, **kw)
        assert r.status_code == status, r.text
        return r.json()

    calls = ok("POST", "/v1/meters", 201, json={"name": "API calls", "event_name": "api.call",
                                                 "measurement_unit": "calls", "aggregation": {"type": "count"}})["id"]
    pay = ok("POST", "/v1/meters", 201, json={"name": "Payments", "event_name": "pay", "measurement_unit": "usd",
                                               "aggregation": {"type": "sum", "key": "v"}})["id"]
    product = ok("POST", "/v1/products", 201, json={"name": "Pro", "currency": "USD", "meters": [
        {"meter_id": calls, "price_per_unit": "0.02", "free_threshold": 1000},
        {"meter_id": pay, "price_per_unit": "1"}]})["id"]
    subs = {}
    for cid in ("cus_good", "cus_bad"):
        ok("POST", "/v1/customers", 201, json={"id": cid, "name": cid.title(), "email": f"{cid}@x.example"})
        subs[cid] = ok("POST", "/v1/subscriptions", 201, json={"customer_id": cid, "product_id": product,
                                                                "start": "2025-01-01T00:00:00Z"})["id"]

    def events(cid, name, n, when="2025-01-20T00:00:00Z", **meta):
        ok("POST", "/v1/events/ingest", json={"events": [
            {"event_id": f"{cid}{name}{i}{meta}{when}", "customer_id": cid, "event_name": name,
             "timestamp": when, "metadata": meta} for i in range(n)]})

    events("cus_good", "api.call", 900)
    events("cus_bad", "pay", 1, v="10")
    events("cus_bad", "pay", 1, v="-25")
    run = ok("POST", "/v1/invoices/run", json={"finalize": True})
    assert len(run["created"]) == 1 and len(run["skipped"]) == 1
    clock.now = datetime(2025, 2, 10, tzinfo=timezone.utc)
    events("cus_good", "api.call", 400, late=True)  # 1,300 January calls: 300 billable
    events("cus_bad", "pay", 1, "2025-02-05T00:00:00Z", v="-5")  # February so far is negative too
    ui = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert ui.post("/ui/login", data={"api_key": token, "next": "/ui"}).status_code == 303
    return {"ui": ui, "api": ok, "clock": clock, "subs": subs, "pay": pay}


def test_a_bad_customer_is_listed_as_needing_attention_and_breaks_no_page(world):
    ui = world["ui"]
    for path in ("/ui", "/ui/customers", "/ui/invoices", "/ui/customers/cus_good", "/ui/customers/cus_bad"):
        assert ui.get(path).status_code == 200, path
    page = ui.get("/ui/invoices").text
    assert 'data-section="needs-attention"' in page and f'data-skipped="{world["subs"]["cus_bad"]}"' in page
    row = text(page.split('data-table="needs-attention"')[1].split("</table>")[0])
    assert "cus_bad" in row and world["pay"] in row and "-15" in row and "negative" in row
    assert 'data-section="needs-attention"' not in ui.get("/ui/invoices", params={"customer_id": "cus_good"}).text

    bad = ui.get("/ui/customers/cus_bad").text
    assert 'data-section="needs-attention"' in bad and 'data-problem="negative"' in bad
    assert "-15" in text(bad)  # the upcoming invoice cannot be priced either: said in place
    assert 'data-section="needs-attention"' not in ui.get("/ui/customers/cus_good").text
    assert 'data-grace-hours="0"' in ui.get("/ui/products").text  # the default grace period, said


def test_late_usage_shows_per_period_and_on_the_next_invoice(world):
    ui, ok = world["ui"], world["api"]
    good = ui.get("/ui/customers/cus_good").text
    assert 'data-section="late-usage"' in good and 'data-amount-pending="6.00"' in good  # (1,300 − 1,000) × $0.02
    assert 'data-upcoming-total="0.00"' in good  # no February usage; the late January usage is not recorded yet

    ok("POST", "/v1/invoices/run", json={"finalize": True})  # records the adjustment (pending)
    assert 'data-upcoming-total="6.00"' in ui.get("/ui/customers/cus_good").text  # due so far carries it now
    page = ui.get("/ui/invoices").text
    assert 'data-section="pending-adjustments"' in page
    assert "API calls: usage for 2025-01 received after invoicing" in text(page)

    world["clock"].now = datetime(2025, 3, 1, 1, tzinfo=timezone.utc)
    feb = ok("POST", "/v1/invoices/run", json={"finalize": True})
    good_feb = next(i for i in feb["created"] if ok("GET", f"/v1/invoices/{i}")["customer_id"] == "cus_good")
    invoice = ui.get(f"/ui/invoices/{good_feb}").text
    line = invoice.split('data-kind="adjustment"')[1].split("</tr>")[0]
    assert 'data-amount="6.00"' in line and "received after invoicing" in line and "900 calls" in text(line)
    assert 'data-section="late-usage"' not in ui.get("/ui/customers/cus_good").text  # nothing pending now
