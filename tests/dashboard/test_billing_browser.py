"""Billing in a real browser, on every backend: invoices made by `meterbase invoices run` (the CLI, in a
subprocess) read off the pages, finalized with the button, at desktop width and at 360 px (no sideways
scrolling). Each billing page is screenshotted to test-output/dashboard/billing-<backend>-*.png.
Also: /docs and /redoc render with every request outside the server blocked (no CDN)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from meterbase.invoicing import Billing
from meterbase.storage import open_store
from support.pg import BACKENDS, backend_database
from support.browser import logged_in_pages, shoot_both
from support.server import start_server, stop_server

pytestmark = pytest.mark.slow
GPU_TIERS = [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
             {"up_to": None, "unit_price": "0.0003"}]


def seed(db_url: str) -> str:
    """Seed 003/004's numbers for cus_acme in January 2025, 7,200 GPU seconds now; returns a writing key."""
    store = open_store(db_url)
    calls = store.create_meter("test_mode", {"name": "API calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    gpu = store.create_meter("test_mode", {"name": "GPU time", "event_name": "gpu", "measurement_unit": "s",
                                           "aggregation": {"type": "sum", "key": "seconds"}})
    disk = store.create_meter("test_mode", {"name": "Storage", "event_name": "disk", "measurement_unit": "bytes",
                                            "aggregation": {"type": "last", "key": "bytes"}})
    for lo in range(0, 2500, 1000):
        store.ingest("test_mode", [{"event_id": f"c{i}", "customer_id": "cus_acme", "event_name": "api.call",
                                    "timestamp": "2025-01-10T00:00:00Z"} for i in range(lo, min(lo + 1000, 2500))])
    now = datetime.now(timezone.utc).isoformat()
    store.ingest("test_mode", [
        {"event_id": "g1", "customer_id": "cus_acme", "event_name": "gpu", "timestamp": "2025-01-12T00:00:00Z",
         "metadata": {"seconds": "40000"}},
        {"event_id": "g2", "customer_id": "cus_acme", "event_name": "gpu", "timestamp": now, "metadata": {"seconds": "7200"}},
        {"event_id": "d1", "customer_id": "cus_acme", "event_name": "disk", "timestamp": now,
         "metadata": {"bytes": "2500000000"}}])
    b = Billing(store)
    product = b.create_product("test_mode", {
        "name": "Pro", "currency": "USD", "fixed_fee": "49.00",
        "meters": [{"meter_id": calls.id, "price_per_unit": "0.02", "free_threshold": 1000},
                   {"meter_id": gpu.id, "price": {"model": "graduated", "tiers": GPU_TIERS}},
                   {"meter_id": disk.id, "price": {"model": "package", "package_size": 1000000000,
                                                   "package_price": "0.10"}}]})
    for cid, name in (("cus_acme", "Acme Corp"), ("cus_idle", "Idle Ltd")):
        b.create_customer("test_mode", {"id": cid, "name": name, "email": f"billing@{cid[4:]}.example"})
        b.create_subscription("test_mode", {"customer_id": cid, "product_id": product.id, "start": "2025-01-01T00:00:00Z"})
    token, _ = store.create_key("billing-ui", "test_mode")
    store.close()
    return token


@pytest.fixture(scope="module", params=BACKENDS)
def billing_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("billing-ui")
    db_url = backend_database(request, tmp, "mb_billing_ui")
    token = seed(db_url)
    run = subprocess.run([sys.executable, "-m", "meterbase", "invoices", "run", "--period", "2025-01", "--db", db_url],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "2 created" in run.stdout, run.stdout + run.stderr
    proc, url = start_server(db_url, tmp / "server.log", {"MB_SECRET_KEY": "billing-browser-" + "s" * 32})
    yield {"url": url, "token": token, "backend": request.param}
    stop_server(proc)


@pytest.fixture(scope="module")
def pages(browser, billing_server):
    """A desktop page and a 360 px phone page, both logged in; any JavaScript error fails the test."""
    with logged_in_pages(browser, billing_server["url"], billing_server["token"]) as out:
        yield out


def shoot(pages, server, shots, name: str, path: str) -> None:
    """Screenshot ``path`` at both widths; at 360 px nothing may scroll sideways."""
    shoot_both(pages, shots, f"billing-{server['backend']}-{name}", path)


def cells(locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def test_invoice_pages_show_the_runs_invoices_and_finalize(pages, billing_server, shots):
    pg = pages["desktop"]
    pg.goto("/ui/invoices")
    rows = pg.locator("[data-table=invoices] tbody tr")
    assert rows.count() == 2
    acme = pg.locator("[data-table=invoices] tbody tr", has_text="Acme Corp")
    assert acme.locator("td").nth(4).inner_text() == "$92.98"  # 49.00 + 30.00 + 13.98
    assert pg.locator("[data-table=invoices] tbody tr", has_text="Idle Ltd").locator("td").nth(4).inner_text() == "$49.00"
    shoot(pages, billing_server, shots, "invoices", "/ui/invoices")

    pg.select_option("#invoice-filters select[name=status]", "draft")
    pg.fill("#invoice-filters input[name=customer_id]", "cus_acme")
    pg.click("#invoice-filters button[type=submit]")
    pg.wait_for_url(re.compile(r".*status=draft.*customer_id=cus_acme"))
    assert "period=" not in pg.url  # empty filters stay out of the URL
    assert pg.locator("[data-table=invoices] tbody tr").count() == 1
    pg.click("[data-table=invoices] tbody tr a.mono")
    pg.wait_for_url(re.compile(r".*/ui/invoices/inv_[0-9a-f]+$"))
    lines = pg.locator("[data-table=invoice-lines] tbody tr.line")
    assert cells(lines.nth(0).locator("td"))[-1] == "$49.00"
    assert cells(lines.nth(1).locator("td"))[1:] == ["2,500 calls", "1,000 calls", "1,500 calls", "$0.02", "$30.00"]
    gpu = cells(lines.nth(2).locator("td"))
    assert gpu[1] == gpu[3] == "11 h 06 min 40 s" and gpu[-1] == "$13.98"
    assert cells(pg.locator("[data-table=invoice-lines] tbody tr.tier td:last-child")) == ["$1.44", "$11.34", "$1.20"]
    assert pg.locator("[data-subtotal]").inner_text() == "$92.98"
    invoice_path = pg.url.split(billing_server["url"])[1]
    shoot(pages, billing_server, shots, "invoice-draft", invoice_path)

    pg.click("#finalize-button")
    pg.wait_for_url(re.compile(r".*\?done=finalized$"))
    assert pg.locator("[data-notice]").inner_text() == "Invoice finalized."
    assert pg.locator("[data-section=history] li").count() == 2
    assert pg.locator("[data-total]").inner_text() == "$92.98"
    shoot(pages, billing_server, shots, "invoice-finalized", invoice_path)


def test_customers_show_the_amount_due_so_far(pages, billing_server, shots):
    pg = pages["desktop"]
    with __import__("httpx").Client(base_url=billing_server["url"],
                                    headers={"Authorization": f"Bearer {billing_server['token']}"}) as c:
        sub = c.get("/v1/subscriptions", params={"customer_id": "cus_acme"}).json()["data"][0]["id"]
        upcoming = c.get(f"/v1/subscriptions/{sub}/upcoming-invoice").json()
    # this period so far: $49.00 + 7,200 GPU s (3,600 × 0.0004 + 3,600 × 0.00035 = $2.70) + 2.5 GB → 3 × $0.10
    assert upcoming["total"] == "52.00"
    pg.goto("/ui/customers")
    row = pg.locator("[data-table=billing-customers] tr[data-customer=cus_acme]")
    assert row.locator("td").nth(4).inner_text() == "$52.00"
    assert pg.locator("[data-table=billing-customers] tr[data-customer=cus_idle] td").nth(4).inner_text() == "$49.00"
    shoot(pages, billing_server, shots, "customers", "/ui/customers")
    row.locator("a").first.click()
    pg.wait_for_url(re.compile(r".*/ui/customers/cus_acme$"))
    assert pg.locator("h1").inner_text() == "Acme Corp"
    assert pg.locator("[data-upcoming-total]").inner_text() == "$52.00"
    upcoming_rows = cells(pg.locator("[data-table=upcoming-lines] tbody tr td:first-child"))
    assert upcoming_rows == ["Pro", "API calls", "GPU time", "Storage"]
    assert "2.5 GB" in pg.locator("[data-table=upcoming-lines]").inner_text()
    assert pg.locator("[data-section=invoices] [data-table=invoices] tbody tr").count() == 1
    shoot(pages, billing_server, shots, "customer", "/ui/customers/cus_acme")


def test_products_and_overview_money(pages, billing_server, shots):
    pg = pages["desktop"]
    pg.goto("/ui/products")
    product = pg.locator("[data-product=Pro]")
    assert product.locator("[data-fixed-fee]").inner_text().startswith("$49.00")
    tiers = cells(product.locator("[data-table=priced-meters] tr[data-tier]"))
    assert tiers == ["0 s – 1 h 00 min\t$0.0004 per unit", "1 h 00 min – 10 h 00 min\t$0.00035 per unit",
                     "above 10 h 00 min\t$0.0003 per unit"]
    shoot(pages, billing_server, shots, "products", "/ui/products")
    pg.goto("/ui")
    pg.wait_for_function("document.documentElement.dataset.ready === '1'")
    assert pg.locator("[data-stat=recurring] .value").inner_text() == "$98.00"
    assert pg.locator("[data-stat=usage-so-far] .value").inner_text() == "$3.00"  # 2.70 GPU + 0.30 storage
    datasets = pg.evaluate("Chart.getChart(document.getElementById('revenue-chart')).data.datasets.map(d => d.label)")
    assert datasets == ["Finalized", "Draft", "This period so far (upcoming)"]
    so_far = pg.evaluate("Chart.getChart(document.getElementById('revenue-chart')).data.datasets[2].raw.at(-1)")
    assert so_far == "101.00"  # 52.00 + 49.00
    shoot(pages, billing_server, shots, "overview", "/ui")


def test_api_docs_render_offline(browser, billing_server, shots):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=billing_server["url"])
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(billing_server["url"]):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    ctx.route("**/*", only_local)
    pg = ctx.new_page()
    pg.goto("/docs")
    pg.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "meterbase" in pg.locator(".swagger-ui .info .title").inner_text()
    assert pg.locator("button.authorize").count() == 1  # the bearer scheme
    pg.locator("#operations-billing-create_customer_v1_customers_post").click()
    assert "email" in pg.locator("#operations-billing-create_customer_v1_customers_post").inner_text()
    pg.screenshot(path=str(shots / f"docs-{billing_server['backend']}.png"))
    pg.goto("/redoc")
    pg.wait_for_selector("h1", timeout=30_000)
    assert "meterbase" in pg.locator("h1").first.inner_text()
    pg.screenshot(path=str(shots / f"redoc-{billing_server['backend']}.png"))
    assert outside == [], f"the docs asked the internet for {outside}"
    ctx.close()
