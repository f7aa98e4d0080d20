"""What needs attention, in a real browser, on every backend: after `meterbase invoices run` (the CLI, in
a subprocess) skipped a customer whose refunds exceed its usage and billed the other, the invoices page
lists the skipped period with its meter and value, the customer pages render (the bad customer's says
why), late usage shows per period and as a pending adjustment -- at desktop width and at 360 px without
sideways scrolling. Screenshots: test-output/dashboard/attention-<backend>-*.png."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from meterbase.invoicing import Billing
from meterbase.storage import open_store
from support.pg import BACKENDS, backend_database
from support.server import start_server, stop_server

pytestmark = pytest.mark.slow


def seed(db_url: str) -> tuple[str, str]:
    """cus_good (900 January calls, 1,000 free) and cus_bad (payments 10, −25); returns (key, payments meter)."""
    store = open_store(db_url)
    calls = store.create_meter("test_mode", {"name": "API calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    pay = store.create_meter("test_mode", {"name": "Payments", "event_name": "pay", "measurement_unit": "usd",
                                           "aggregation": {"type": "sum", "key": "v"}})
    store.ingest("test_mode", [{"event_id": f"c{i}", "customer_id": "cus_good", "event_name": "api.call",
                                "timestamp": "2025-01-10T00:00:00Z"} for i in range(900)])
    store.ingest("test_mode", [{"event_id": f"p{i}", "customer_id": "cus_bad", "event_name": "pay",
                                "timestamp": "2025-01-10T00:00:00Z", "metadata": {"v": v}} for i, v in enumerate(["10", "-25"])])
    b = Billing(store)
    product = b.create_product("test_mode", {"name": "Pro", "currency": "USD", "meters": [
        {"meter_id": calls.id, "price_per_unit": "0.02", "free_threshold": 1000},
        {"meter_id": pay.id, "price_per_unit": "1"}]})
    for cid, name in (("cus_good", "Good Corp"), ("cus_bad", "Refund Ltd")):
        b.create_customer("test_mode", {"id": cid, "name": name, "email": f"billing@{cid[4:]}.example"})
        b.create_subscription("test_mode", {"customer_id": cid, "product_id": product.id, "start": "2025-01-01T00:00:00Z"})
    token, _ = store.create_key("attention-ui", "test_mode")
    store.close()
    return token, pay.id


def cli_run(db_url: str) -> str:
    run = subprocess.run([sys.executable, "-m", "meterbase", "invoices", "run", "--period", "2025-01", "--finalize",
                          "--env", "test_mode", "--db", db_url], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return " ".join(run.stdout.split())


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attention-ui")
    db_url = backend_database(request, tmp, "mb_attention_ui")
    token, pay = seed(db_url)
    first = cli_run(db_url)
    assert "test_mode: 1 created" in first and "1 skipped" in first
    store = open_store(db_url)  # 400 more January calls arrive after January was finalized
    store.ingest("test_mode", [{"event_id": f"late{i}", "customer_id": "cus_good", "event_name": "api.call",
                                "timestamp": "2025-01-31T12:00:00Z"} for i in range(400)])
    store.close()
    proc, url = start_server(db_url, tmp / "server.log", {"MB_SECRET_KEY": "attention-browser-" + "s" * 32})
    yield {"url": url, "token": token, "backend": request.param, "pay": pay, "db": db_url}
    stop_server(proc)


def test_needs_attention_and_late_usage_at_both_widths(browser, server, shots):
    errors = []
    for name, viewport in (("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 360, "height": 740})):
        ctx = browser.new_context(viewport=viewport, base_url=server["url"], timezone_id="UTC")
        pg = ctx.new_page()
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto("/ui/login")
        pg.fill("#api_key", server["token"])
        pg.click("#login-submit")
        pg.wait_for_url(re.compile(r".*/ui$"))
        for page, path in (("invoices", "/ui/invoices"), ("bad", "/ui/customers/cus_bad"),
                           ("good", "/ui/customers/cus_good")):
            pg.goto(path)
            pg.wait_for_function("document.documentElement.dataset.ready === '1'")
            if name == "phone":
                overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360 px"
            suffix = "-360" if name == "phone" else ""
            pg.screenshot(path=str(shots / f"attention-{server['backend']}-{page}{suffix}.png"), full_page=True)
            if name == "desktop" and page == "invoices":
                row = pg.locator("[data-table=needs-attention] tbody tr")
                assert row.count() == 1 and "Refund" not in row.inner_text()
                assert row.get_attribute("data-reason") == "negative"
                assert row.locator("[data-value]").inner_text() == "-15" and server["pay"] in row.inner_text()
            if name == "desktop" and page == "bad":
                assert pg.locator("h1").inner_text() == "Refund Ltd"
                assert pg.locator("[data-table=needs-attention] tbody tr").count() == 1
            if name == "desktop" and page == "good":
                late = pg.locator("[data-table=late-usage] tbody tr")
                assert late.count() == 1 and "$6.00" in late.inner_text()  # (1,300 − 1,000) × $0.02
                assert "900 calls" in late.inner_text() and "1,300 calls" in late.inner_text()
        ctx.close()
    assert errors == []
