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

from .world import january

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
    ids = january(api, clock, seed_text, finalize=False)
    ent, sub = ids["entitlement"], ids["subscription"]

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
    upcoming = text(page[page.index('data-section="billing"'):page.index('data-section="entitlements"')])
    assert re.search(r"gpu_compute overage \(gpu_second\) 1 h 00 min .*? \$1.44", upcoming)  # due so far

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
