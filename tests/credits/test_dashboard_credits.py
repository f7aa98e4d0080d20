"""The dashboard in process, both backends: a customer's Credits section (balances, grants with expiry, ledger,
wallets), and credits, policy overage and wallet payments as lines of the invoice page, read off the HTML."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import open_store

UTC = timezone.utc
SECRET = "credits-ui-secret-" + "x" * 32


def text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def site(fresh_store_url, clock, monkeypatch, seed_text):
    monkeypatch.setenv("MB_SECRET_KEY", SECRET)
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    api = Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)
    ui = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert ui.post("/ui/login", data={"api_key": token, "next": "/ui"}).status_code == 303
    try:
        yield api, ui
    finally:
        store.close()


def test_credits_section_and_credit_lines_on_the_invoice_page(site, clock, seed_text):
    api, ui = site
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    api.ok("PUT", "/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"})
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json={
        "name": "API credits", "unit": "calls", "precision": 0, "overage_enabled": True, "price_per_unit": "0.01",
        "currency": "USD", "overage_behavior": "invoice_at_billing", "expires_after_days": 60})["id"]
    product = api.ok("POST", "/v1/products", 201, json={
        "name": "GPU Pro", "currency": "USD", "fixed_fee": "99.00",
        "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "1000"}]})["id"]
    api.customer("cus_ui")
    sub = api.subscribe("cus_ui", product, start="2025-01-01T00:00:00Z")
    api.ok("POST", "/v1/policy/customers", json={"customer_id": "cus_ui", "plan": "pro",
                                                 "anchor": "2025-01-01T00:00:00Z"})
    bal = f"/v1/credit-entitlements/{ent}/balances/cus_ui/ledger-entries"
    clock.now = datetime(2025, 1, 10, tzinfo=UTC)
    api.ok("POST", bal, 201, json={"entry_type": "credit", "amount": "250", "reason": "support gesture"})
    api.ok("POST", bal, 201, json={"entry_type": "debit", "amount": "1400", "reason": "batch job"})  # 150 overage
    api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_ui", "entitlement": "gpu_compute", "amount": "11hr"})
    api.ok("POST", "/v1/customers/cus_ui/wallets/ledger-entries", 201, json={"amount": 2000, "currency": "USD",
                                                                       "entry_type": "credit"})

    page = ui.get("/ui/customers/cus_ui").text
    credits = page[page.index('data-section="credits"'):page.index('data-section="invoices"')]
    plain = text(credits)
    assert f'data-credit-entitlement="{ent}"' in credits and 'data-credit-balance="0"' in credits
    assert 'data-credit-overage="150"' in credits and "invoice at billing" in plain and "$0.01 each" in plain
    assert "1,000 per cycle" in plain and sub in plain  # the subscription's cycle feeds it
    assert "No open grants." in plain  # both grants spent
    assert re.search(r"credit deducted batch job −1,400 0 150", plain)
    assert re.search(r"credit added support gesture \+250 1,250 0", plain)
    assert 'data-wallet="USD" data-minor="2000"' in credits and "$20.00" in plain

    clock.now = datetime(2025, 2, 2, tzinfo=UTC)  # January ends: 150 overage charged at $0.01 = $1.50
    api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    [inv] = [i for i in api.ok("GET", "/v1/invoices", params={"customer_id": "cus_ui"})["data"]
             if i["period_start"] == "2025-01-01T00:00:00Z"]
    # $99.00 + $1.44 GPU overage + $1.50 credit overage = $101.94, then the wallet pays $20.00 of it
    assert (inv["status"], inv["subtotal"], inv["total"]) == ("finalized", "101.94", "81.94")
    page = ui.get(f"/ui/invoices/{inv['id']}").text
    plain = text(page)
    assert re.search(r"gpu_compute overage \(gpu_second\) .*? 1 h 00 min .*? \$1.44", plain)
    assert re.search(r"API credits: credits applied .*? 1,250 calls .*? \$0.00", plain)
    assert re.search(r"API credits: overage charged .*? 150 calls .*? \$0.01 \$1.50", plain)
    assert re.search(r"Paid from the customer's wallet .*? -\$20.00", plain)
    assert 'data-subtotal="101.94"' in page and "Total $81.94" in plain
    assert 'data-credit-balance="1000"' in ui.get("/ui/customers/cus_ui").text  # February's credits
