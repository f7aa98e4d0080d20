"""The dashboard in a real browser: headless Debian Chromium driven by Playwright against a live
server on the demo dataset. Each page is screenshotted to test-output/dashboard/*.png."""

from __future__ import annotations

import re
import time

import pytest

from meterbase import demo

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra").expect


@pytest.fixture(scope="module")
def context(browser, demo_server):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=demo_server.url, timezone_id="UTC")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context, demo_server):
    """A page logged in with the demo test_mode key; fails the test on any JavaScript error."""
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.goto("/ui/login")
    pg.fill("#api_key", demo_server.test_key)
    pg.click("#login-submit")
    pg.wait_for_url(re.compile(r".*/ui$"))
    pg.js_errors = errors
    yield pg
    assert not errors, f"JavaScript errors: {errors}"


def ready(pg):
    pg.wait_for_function("document.documentElement.dataset.ready === '1'")


def meter_id(demo_server, name: str) -> str:
    with demo_server.api() as c:
        return next(m["id"] for m in c.get("/v1/meters").json()["data"] if m["name"] == name)


def test_login_rejects_a_bad_key_and_sets_a_safe_cookie(browser, demo_server, shots):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=demo_server.url)
    pg = ctx.new_page()
    pg.goto("/ui/meters")  # not logged in: sent to the login page, coming back afterwards
    assert "/ui/login" in pg.url
    pg.fill("#api_key", "mb_test_not_a_real_key")
    pg.click("#login-submit")
    assert pg.locator(".error").inner_text().startswith("That API key is not valid")
    pg.screenshot(path=str(shots / "login.png"))
    pg.fill("#api_key", demo_server.test_key)
    pg.click("#login-submit")
    pg.wait_for_url(re.compile(r".*/ui/meters$"))
    (cookie,) = [c for c in ctx.cookies() if c["name"] == "mb_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"
    assert demo_server.test_key not in cookie["value"]  # only the key id travels
    ctx.close()


def test_overview_shows_volume_top_lists_and_recent_invoices(page, demo_server, shots):
    page.goto("/ui")
    ready(page)
    assert int(page.locator("[data-stat=today] .value").inner_text().replace(",", "")) >= 0
    assert int(page.locator("[data-stat=customers] .value").inner_text()) == 5
    assert page.locator("[data-table=top-customers] tbody tr").count() == 5
    assert page.locator("[data-table=top-meters] tbody tr").count() == len(demo.METERS) == 7
    assert page.evaluate("Chart.getChart(document.getElementById('volume-chart')).data.labels.length") == 30
    with demo_server.api() as c:  # the demo's finalized invoices, newest first
        newest = c.get("/v1/invoices", params={"limit": 5}).json()["data"]
    assert page.locator("[data-table=invoices] tbody tr").count() == len(newest) == 5
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.click("button[data-volume=hourly]")
    assert page.evaluate("Chart.getChart(document.getElementById('volume-chart')).data.labels.length") == 48


def test_meters_list(page, shots):
    page.goto("/ui/meters")
    rows = page.locator("[data-table=meters] tbody tr")
    assert rows.count() == len(demo.METERS)
    assert "Token Usage" in page.locator("[data-table=meters]").inner_text()
    page.screenshot(path=str(shots / "meters.png"), full_page=True)


def _api_windows(demo_server, mid: str, canvas) -> list[dict]:
    """The windows /v1 returns for the chart's exact range (for one customer, so a row exists even
    when the range has no usage: the window count does not depend on the customer)."""
    params = {k: canvas.get_attribute(f"data-{k}") for k in ("from", "to", "window", "tz")}
    with demo_server.api() as c:
        doc = c.get(f"/v1/meters/{mid}/usage", params={**params, "customer_id": "cus_acme"}).json()
    assert len(doc["data"]) == 1, doc
    return doc["data"][0]["windows"]


def test_meter_window_change_rerenders_with_the_api_point_count(page, demo_server, shots):
    mid = meter_id(demo_server, "Token Usage")
    page.goto(f"/ui/meters/{mid}")
    ready(page)
    canvas = page.locator("#usage-chart")
    assert canvas.get_attribute("data-window") == "day"
    day_points = int(canvas.get_attribute("data-points"))
    assert day_points == len(_api_windows(demo_server, mid, canvas)) == 31  # 30 days from a minute boundary
    assert page.locator("#breakdown tbody tr").count() == 5
    assert page.evaluate("Chart.getChart(document.getElementById('usage-chart')).data.datasets[0].label") == \
        "All customers (total)"
    page.screenshot(path=str(shots / "meter-day.png"), full_page=True)

    renders = canvas.get_attribute("data-renders")
    page.select_option("#window-picker", "hour")
    page.wait_for_function(
        f"(c => c.dataset.window === 'hour' && c.dataset.renders !== '{renders}')(document.getElementById('usage-chart'))")
    hour_points = int(canvas.get_attribute("data-points"))
    chart_points = page.evaluate("Chart.getChart(document.getElementById('usage-chart')).data.labels.length")
    api = _api_windows(demo_server, mid, canvas)
    assert hour_points == chart_points == len(api) > day_points
    # every drawn value is the API's value for that window (summed over the 5 customers: Token Usage is a sum)
    drawn = page.evaluate("Chart.getChart(document.getElementById('usage-chart')).data.datasets[0].raw")
    with demo_server.api() as c:
        params = {k: canvas.get_attribute(f"data-{k}") for k in ("from", "to", "window", "tz")}
        rows = c.get(f"/v1/meters/{mid}/usage", params=params).json()["data"]
    assert [int(v) for v in drawn] == [sum(int(r["windows"][i]["value"]) for r in rows) for i in range(len(api))]
    assert "window=hour" in page.url  # the URL follows the pickers (reload keeps the view)
    page.screenshot(path=str(shots / "meter-hour.png"), full_page=True)

    # group by a metadata key: one series per model, table gains the group column
    page.fill("#group-picker", "model")
    page.press("#group-picker", "Enter")
    page.wait_for_function("Chart.getChart(document.getElementById('usage-chart')).data.datasets.length === 2")
    labels = page.evaluate("Chart.getChart(document.getElementById('usage-chart')).data.datasets.map(d => d.label)")
    assert labels == ["model=claude-3", "model=gpt-4"]
    assert page.locator("#breakdown tbody tr").count() == 10
    page.screenshot(path=str(shots / "meter-group-by.png"), full_page=True)

    # a window too fine for the range: the range narrows itself instead of failing
    page.fill("#group-picker", "")
    page.select_option("#window-picker", "minute")
    page.wait_for_function("document.getElementById('usage-chart').dataset.window === 'minute'")
    assert page.locator("#range-picker").input_value() == "1h"
    assert int(canvas.get_attribute("data-points")) == len(_api_windows(demo_server, mid, canvas)) == 60


def test_customer_page_shows_the_api_usage_figure(page, demo_server, shots):
    page.goto("/ui/customers?tab=events")
    assert page.locator("[data-table=customers] tbody tr").count() == 5
    page.screenshot(path=str(shots / "customers-events.png"), full_page=True)
    page.click("text=cus_acme")
    page.wait_for_url(re.compile(r".*/ui/customers/cus_acme$"))
    ready(page)
    period = page.locator("[data-period-from]")
    frm, to = period.get_attribute("data-period-from"), period.get_attribute("data-period-to")
    cards = page.locator(".usage-card[data-meter-id]")
    assert cards.count() == len(demo.METERS)
    checked = 0
    with demo_server.api() as c:
        for i in range(cards.count()):
            card = cards.nth(i)
            mid = card.get_attribute("data-meter-id")
            doc = c.get(f"/v1/meters/{mid}/usage",
                        params={"customer_id": "cus_acme", "from": frm, "to": to, "window": "month"}).json()
            api_value = doc["data"][0]["value"]
            figure = card.locator(".figure")
            assert figure.get_attribute("data-value") == (api_value or "")
            if api_value is not None and doc["measurement_unit"] not in ("bytes", "s"):
                assert figure.inner_text().replace(",", "") == api_value
                checked += 1
            elif api_value is not None:  # bytes and seconds read as GB / h min, the exact value in the title
                assert figure.get_attribute("title").replace(",", "") == f"{api_value} {doc['measurement_unit']}"
                checked += 1
    assert checked >= 4
    assert page.locator("[data-empty=no-sessions]").count() == 1  # the demo starts no live session
    for section in ("no-plan", "no-entitlements", "no-invoices"):  # the demo has a subscription, a plan, invoices
        assert page.locator(f"[data-empty={section}]").count() == 0
    assert page.locator("[data-entitlement=gpu_compute]").count() == 1  # seed 004's pro plan
    page.screenshot(path=str(shots / "customer-demo.png"), full_page=True)


def test_events_explorer_filters(page, demo_server, shots):
    page.goto("/ui/events")
    assert page.locator("[data-table=events] tbody tr").count() == 50
    # the folder's line: the server's folder process runs, so its bound applies; once the API says it caught up,
    # the page says so too
    fold = page.locator("[data-fold-status]")
    expect(fold).to_be_visible()
    assert re.fullmatch(r"Folder: folded up to seq [\d,]+ · (up to date|[\d,]+ events? waiting) \(bound 100,000\)",
                        " ".join(fold.inner_text().split()))
    with demo_server.api() as c:
        deadline = time.monotonic() + 30
        while (w := c.get("/v1/event-store/watermark").json())["unfolded"] and time.monotonic() < deadline:
            time.sleep(0.2)
    assert w["unfolded"] == 0 and w["max_unfolded"] == 100_000, w
    page.goto("/ui/events")
    expect(fold).to_have_attribute("data-fold-status", "up-to-date")
    assert " ".join(fold.inner_text().split()) == f"Folder: folded up to seq {w['folded_seq']:,} · up to date (bound 100,000)"
    page.fill("input[name=customer_id]", "cus_globex")
    page.select_option("select[name=event_name]", "ai.tokens")
    page.click("#events-form button[type=submit]")
    page.wait_for_url(re.compile(r".*customer_id=cus_globex.*"))
    rows = page.locator("[data-table=events] tbody tr")
    assert rows.count() == 50
    customers = page.locator("[data-table=events] tbody tr td:nth-child(3)").all_inner_texts()
    names = page.locator("[data-table=events] tbody tr td:nth-child(2) code").all_inner_texts()
    assert set(customers) == {"cus_globex"} and set(names) == {"ai.tokens"}
    assert "meter_id=" not in page.url  # empty filters are left out of the URL
    assert page.locator("[data-table=events] tbody tr .badge.ok", has_text="Token Usage").count() == 50
    page.screenshot(path=str(shots / "events.png"), full_page=True)
    newest_id = rows.first.get_attribute("data-event-id")
    page.click("[data-next]")  # keyset pagination to older events: a navigation to ?…&cursor=…
    page.wait_for_url(re.compile(r".*[?&]cursor=[^&]+"))
    # Auto-waiting assertions: the older page has replaced the first one before anything is counted or read.
    expect(rows.first).not_to_have_attribute("data-event-id", newest_id)
    expect(rows).to_have_count(50)
    expect(page.locator("[data-table=events] tbody tr td:nth-child(3)", has_text="cus_globex")).to_have_count(50)
    # look an id up: a stored id is reported as taken (a replay would be a duplicate)
    first_id = rows.first.get_attribute("data-event-id")
    assert first_id and first_id != newest_id
    page.goto(f"/ui/events?event_id={first_id}")
    assert page.locator("[data-table=events] tbody tr").count() == 1
    assert "duplicate" in page.locator(".note").inner_text()


def test_events_explorer_shows_rejected_values(page, demo_server, shots):
    bad = {"event_id": "evt_dash_bad_tokens", "customer_id": "cus_acme", "event_name": "ai.tokens",
           "metadata": {"tokens": "lots", "model": "gpt-4"}}
    with demo_server.api() as c:
        assert c.post("/v1/events/ingest", json={"events": [bad]}).json()["ingested_count"] == 1
        assert c.post("/v1/events/ingest", json={"events": [bad]}).json()["duplicate_count"] == 1
    mid = meter_id(demo_server, "Token Usage")
    page.goto("/ui/events")
    side = page.locator("[data-table=rejections]")
    assert "Token Usage" in side.inner_text()
    side.locator("a", has_text="Token Usage").click()
    page.wait_for_url(re.compile(rf".*meter_id={mid}&rejected=1$"))
    rows = page.locator("[data-table=events] tbody tr.rejected")
    assert rows.count() == page.locator("[data-table=events] tbody tr").count() == 1
    assert rows.first.get_attribute("data-event-id") == "evt_dash_bad_tokens"
    assert "rejected by Token Usage: 'tokens' is not a number" in rows.first.inner_text()
    page.screenshot(path=str(shots / "events-rejected.png"), full_page=True)


def test_mode_switch_adds_a_live_key_and_shows_live_data_only(page, demo_server, shots):
    page.goto("/ui")
    page.click("button[data-mode=live_mode]")  # this session has no live key yet
    page.wait_for_url(re.compile(r".*/ui/login\?mode=live_mode.*"))
    assert "no live mode key" in page.locator(".note").inner_text()
    page.fill("#api_key", demo_server.live_key)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/ui$"))
    assert "on" in page.locator("button[data-mode=live_mode]").get_attribute("class")
    assert "No events yet in live mode" in page.locator("[data-empty=no-events]").inner_text()
    page.screenshot(path=str(shots / "overview-live-empty.png"), full_page=True)
    page.goto("/ui/meters")
    assert page.locator("[data-empty=no-meters]").count() == 1
    page.click("button[data-mode=test_mode]")  # both keys now: switching needs no login
    page.wait_for_url(re.compile(r".*/ui/meters$"))
    assert page.locator("[data-table=meters] tbody tr").count() == len(demo.METERS)
