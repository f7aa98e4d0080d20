"""Credits and seed 004's policy overage in a real browser, on every backend: January 2025 made through the API
(``credits.world``) and invoiced, then a live server: the invoice page shows the $1.44 GPU overage line,
the $1.50 credit overage and the wallet's payment; the customer page's Credits section shows the balance, its
grant (with expiry) and ledger. Screenshots: test-output/dashboard/credits-<backend>-*.png (desktop and 360 px)."""

from __future__ import annotations


import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from credits.world import january
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import open_store
from support.clock import FakeClock
from support.pg import BACKENDS, backend_database
from support.browser import logged_in_pages, shoot_both
from support.server import start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def credits_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("credits-ui")
    db_url = backend_database(request, tmp, "mb_credits_ui")
    clock = FakeClock()
    store = open_store(db_url, clock)
    token, _ = store.create_key("credits-ui", "test_mode")
    api = Api(TestClient(create_app(store, Settings(database_url=store.url, rate_limit_rps=0)),
                         headers={"Authorization": f"Bearer {token}"}), store)
    seed_text = (request.config.rootpath / "tests" / "policy" / "seed_policy.yaml").read_text(encoding="utf-8")
    ids = january(api, clock, seed_text)
    store.close()
    proc, url = start_server(db_url, tmp / "server.log", {"MB_SECRET_KEY": "credits-browser-" + "s" * 32})
    yield {"url": url, "token": token, "backend": request.param, **ids}
    stop_server(proc)


@pytest.fixture(scope="module")
def pages(browser, credits_server):
    """A desktop page and a 360 px phone page, both logged in; any JavaScript error fails the test."""
    with logged_in_pages(browser, credits_server["url"], credits_server["token"]) as out:
        yield out


def shoot(pages, server, shots, name: str, path: str) -> None:
    """Screenshot ``path`` at both widths; at 360 px nothing may scroll sideways."""
    shoot_both(pages, shots, f"credits-{server['backend']}-{name}", path)


def line(pg, kind: str) -> list[str]:
    return [t.strip() for t in pg.locator(f"[data-table=invoice-lines] tr.line[data-kind={kind}] td").all_inner_texts()]


def test_the_invoice_page_shows_policy_overage_credits_and_the_wallet(pages, credits_server, shots):
    pg = pages["desktop"]
    path = f"/ui/invoices/{credits_server['invoice']}"
    pg.goto(path)
    gpu = line(pg, "policy_overage")
    assert gpu[0].startswith("gpu_compute overage (gpu_second)") and gpu[1] == "1 h 00 min" and gpu[-1] == "$1.44"
    assert line(pg, "credit_overage")[1:] == ["150 calls", "", "150 calls", "$0.01", "$1.50"]
    assert line(pg, "credits_applied")[-1] == "$0.00"
    assert line(pg, "wallet_payment")[-1] == "-$20.00"
    assert pg.locator("[data-subtotal]").inner_text() == "$101.94"
    assert pg.locator("[data-total]").inner_text() == "$81.94"
    shoot(pages, credits_server, shots, "invoice", path)


def test_the_customer_page_has_a_credits_section(pages, credits_server, shots):
    pg = pages["desktop"]
    path = "/ui/customers/cus_ui"
    pg.goto(path)
    section = pg.locator("[data-section=credits]")
    card = section.locator(f"[data-credit-entitlement={credits_server['entitlement']}]")
    assert card.locator("[data-credit-balance]").inner_text().startswith("1,000")  # February's credits (real now)
    grant = card.locator("[data-table=credit-grants] tbody tr").first
    assert grant.locator("[data-remaining]").inner_text() == "1,000"
    kinds = card.locator("[data-table=credit-ledger] tbody tr").evaluate_all("rows => rows.map(r => r.dataset.entry)")
    assert kinds[:2] == ["credit_added", "credit_expired"]  # this cycle's credits; the last cycle's expired
    assert section.locator("[data-wallet=USD]").inner_text() == "$0.00"  # it paid January's invoice
    shoot(pages, credits_server, shots, "customer", path)
