"""A month of storage priced exactly from a handful of gauge events (the README's example), with every
price model, over the HTTP API on every backend; plus the meter's API, CLI and dashboard surfaces."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

UTC = timezone.utc

#: The README example: GB stored by cus_store (gauge: each event sets the level).
README_EVENTS = [
    (datetime(2024, 12, 20, tzinfo=UTC), 5),  # before the period: carries into January
    (datetime(2025, 1, 10, tzinfo=UTC), 10),
    (datetime(2025, 1, 20, 12, tzinfo=UTC), "2.5"),
    (datetime(2025, 1, 25, tzinfo=UTC), 0),
    (datetime(2025, 2, 3, tzinfo=UTC), 100),  # after the period: not January's
]
# 5 GB × 216 h + 10 GB × 252 h + 2.5 GB × 108 h + 0 GB × 168 h = 1080 + 2520 + 270 = 3870 GB-hours
JANUARY_GB_HOURS = "3870"


def _storage(api, agg: dict | None = None) -> str:
    body = {"name": "Storage held", "event_name": "storage.snapshot", "measurement_unit": "GB-hours",
            "aggregation": agg or {"type": "time_weighted", "key": "gb", "mode": "gauge", "per": "hour"}}
    return api.ok("POST", "/v1/meters", 201, json=body)["id"]


def _send(api, customer: str, events) -> None:
    for when, gb in events:
        api.events(customer, "storage.snapshot", when, metadata={"gb": gb})


@pytest.mark.parametrize("price, total", [
    ({"model": "per_unit", "unit_price": "0.01"}, "38.70"),
    ({"model": "per_unit", "unit_price": "0.01", "free_threshold": "1000"}, "28.70"),
    ({"model": "graduated", "tiers": [{"up_to": 1000, "unit_price": "0.02"}, {"up_to": None, "unit_price": "0.01"}]},
     "48.70"),
    ({"model": "volume", "tiers": [{"up_to": 1000, "unit_price": "0.02"}, {"up_to": None, "unit_price": "0.01"}]},
     "38.70"),
])
def test_a_month_of_storage_is_priced_exactly(api, price, total):
    meter = _storage(api)
    api.customer("cus_store")
    product = api.product([{"meter_id": meter, "price": price}])
    sub = api.subscribe("cus_store", product, start="2025-01-01T00:00:00Z")
    _send(api, "cus_store", reversed(README_EVENTS))  # out of order: placed by timestamp
    inv = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})
    line = next(ln for ln in inv["lines"] if ln.get("meter_id") == meter)
    assert line["quantity"] == JANUARY_GB_HOURS
    assert inv["total"] == total


def test_usage_api_one_event_bills_the_whole_month_and_late_events_count(api):
    meter = _storage(api, {"type": "time_weighted", "key": "gb", "mode": "delta", "per": "day"})
    api.events("cus_a", "storage.snapshot", datetime(2025, 1, 1, tzinfo=UTC), metadata={"gb": 3})
    q = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z", "window": "month", "customer_id": "cus_a"}
    got = api.ok("GET", f"/v1/meters/{meter}/usage", params=q)
    assert got["data"][0]["value"] == "93"  # 3 GB × 31 days, from one event on the 1st
    api.events("cus_a", "storage.snapshot", datetime(2025, 1, 16, tzinfo=UTC), metadata={"gb": -1})  # late, delta
    got = api.ok("GET", f"/v1/meters/{meter}/usage", params={**q, "window": "day"})
    days = [w["value"] for w in got["data"][0]["windows"]]
    assert days[:15] == ["3"] * 15 and days[15:] == ["2"] * 16 and got["data"][0]["value"] == "77"
    everyone = api.ok("GET", f"/v1/meters/{meter}/usage", params={k: v for k, v in q.items() if k != "customer_id"})
    assert [(r["customer_id"], r["value"]) for r in everyone["data"]] == [("cus_a", "77")]


def test_meter_surfaces_show_the_parameters(api):
    meter = _storage(api)
    got = api.ok("GET", f"/v1/meters/{meter}")
    assert got["aggregation"] == {"type": "time_weighted", "key": "gb", "mode": "gauge", "per": "hour"}
    bad = api.c.post("/v1/meters", json={"name": "x", "event_name": "e", "aggregation": {
        "type": "time_weighted", "key": "gb", "mode": "level"}})
    assert bad.status_code == 422
    bad = api.c.post("/v1/meters", json={"name": "x", "event_name": "e", "aggregation": {
        "type": "sum", "key": "gb", "per": "hour"}})
    assert bad.status_code == 422 and "per" in bad.text


def test_dashboard_meter_page_shows_a_time_weighted_meter(api, monkeypatch):
    from meterbase.dashboard.views import rejection_reason

    meter = _storage(api)
    api.events("cus_d", "storage.snapshot", datetime.now(UTC), metadata={"gb": 4})
    api.events("cus_d", "storage.snapshot", datetime.now(UTC), metadata={"gb": "lots"})
    m = api.store.get_meter("test_mode", meter)
    assert rejection_reason(m, {"gb": "lots"}) == "'gb' is not a number"
    monkeypatch.setenv("MB_SECRET_KEY", "unit-test-secret-" + "x" * 32)
    from fastapi.testclient import TestClient

    from meterbase.api import create_app
    from meterbase.config import Settings

    key, _ = api.store.create_key("ui", "test_mode")
    c = TestClient(create_app(api.store, Settings(database_url=api.store.url)), base_url="http://testserver",
                   follow_redirects=False)
    c.post("/ui/login", data={"api_key": key, "next": "/ui"})
    html = c.get(f"/ui/meters/{meter}").text
    assert "Time-weighted" in html and "mode gauge, per hour" in html and "cus_d" in html
    assert "1 rejected values" in html
    listing = c.get("/ui/meters").text
    assert "Time-weighted" in listing
    doc = c.get(f"/ui/api/meters/{meter}/usage", params={"window": "hour", "range": "24h"}).json()
    assert doc["chart"]["series"][0]["events"] == 2


def test_many_customers_paths_equal_one_customer_at_a_time(api):
    """What an invoice run uses for many subscriptions (``meter_totals``, ``meter_totals_many``) equals
    ``meter_total`` per customer and window."""
    from meterbase.storage import usage
    from meterbase.storage.usage_batch import meter_totals_many
    from meterbase.timeutil import to_us

    meter_id = _storage(api, {"type": "time_weighted", "key": "gb", "mode": "delta", "per": "minute"})
    _send(api, "cus_1", README_EVENTS)
    _send(api, "cus_2", README_EVENTS[1:3])
    jan, feb = to_us(datetime(2025, 1, 1, tzinfo=UTC)), to_us(datetime(2025, 2, 1, tzinfo=UTC))
    mid = to_us(datetime(2025, 1, 15, 7, 30, 0, 123456, tzinfo=UTC))
    with api.store.read() as conn:
        meter = api.store.get_meter("test_mode", meter_id)
        one = {c: usage.meter_total(conn, meter, jan, feb, c).value("time_weighted") for c in ("cus_1", "cus_2")}
        every = {c: p.value("time_weighted") for c, p in usage.meter_totals(conn, meter, jan, feb).items()}
        wins = [("cus_1", jan, mid), ("cus_1", mid, feb), ("cus_2", jan, mid), ("cus_3", jan, feb)]
        many = [p.value("time_weighted") for p in meter_totals_many(conn, meter, wins)]
        singles = [usage.meter_total(conn, meter, s, e, c).value("time_weighted") for c, s, e in wins]
    assert every == one and one["cus_1"] == 5 * 9 * 1440 + 15 * D("10.5") * 1440 + D("17.5") * D("11.5") * 1440  # delta
    assert many == singles and many[0] + many[1] == one["cus_1"] and many[3] == 0


def test_the_readme_example_states_these_numbers():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Time-weighted meters", 1)[1].split("\n## ", 1)[0]
    assert f"**{JANUARY_GB_HOURS} GB-hours**" in section
    for total in ("38.70", "28.70", "48.70"):
        assert f"**${total}**" in section
    for when, gb in README_EVENTS:
        assert f"| {when:%Y-%m-%d %H:%M} | {gb} |" in section


def test_all_customers_opening_level_looks_past_filtered_and_rejected_events(api):
    """The latest earlier events of a customer may all be filtered out or not numbers: the opening level is
    still the latest matching value, for one customer and for every customer at once."""
    from meterbase.storage import usage
    from meterbase.timeutil import to_us

    body = {"name": "us disk", "event_name": "disk", "measurement_unit": "GB-days",
            "aggregation": {"type": "time_weighted", "key": "gb", "per": "day"},
            "filter": {"conjunction": "and", "clauses": [{"key": "region", "operator": "equals", "value": "us"}]}}
    meter_id = api.ok("POST", "/v1/meters", 201, json=body)["id"]
    api.events("cus_x", "disk", datetime(2025, 1, 1, tzinfo=UTC), metadata={"gb": 6, "region": "us"})
    api.events("cus_x", "disk", datetime(2025, 1, 2, tzinfo=UTC), n=5, metadata={"gb": 99, "region": "eu"})
    api.events("cus_x", "disk", datetime(2025, 1, 3, tzinfo=UTC), n=5, metadata={"gb": "n/a", "region": "us"})
    api.events("cus_y", "disk", datetime(2025, 1, 4, tzinfo=UTC), metadata={"gb": 1, "region": "us"})
    feb, mar = to_us(datetime(2025, 2, 1, tzinfo=UTC)), to_us(datetime(2025, 3, 1, tzinfo=UTC))
    with api.store.read() as conn:
        meter = api.store.get_meter("test_mode", meter_id)
        one = usage.meter_total(conn, meter, feb, mar, "cus_x").value("time_weighted")
        every = {c: p.value("time_weighted") for c, p in usage.meter_totals(conn, meter, feb, mar).items()}
    assert one == 6 * 28 and every == {"cus_x": 6 * 28, "cus_y": 28}


def test_invoice_run_and_a_late_snapshot_adjust_by_the_exact_difference(api, clock):
    """January invoiced by a run; then a late January snapshot (10 GB from Jan 31 12:00 instead of 0) is
    pending on the period as 10 GB × 12 h = 120 GB-hours × $0.01 = $1.20."""
    api.store.clock = clock
    clock.now = datetime(2025, 1, 20, tzinfo=UTC)
    meter = _storage(api)
    api.customer("cus_store")
    product = api.product([{"meter_id": meter, "price": {"model": "per_unit", "unit_price": "0.01"},
                            "description": "Storage"}])
    sub = api.subscribe("cus_store", product, start="2025-01-01T00:00:00Z")
    clock.now = datetime(2025, 2, 1, 6, tzinfo=UTC)
    _send(api, "cus_store", README_EVENTS[:4])
    jan = api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    assert api.ok("GET", f"/v1/invoices/{jan['created'][0]}")["total"] == "38.70"
    clock.now = datetime(2025, 2, 10, tzinfo=UTC)
    api.events("cus_store", "storage.snapshot", datetime(2025, 1, 31, 12, tzinfo=UTC), metadata={"gb": 10})
    (period,) = api.ok("GET", f"/v1/subscriptions/{sub}/periods")["data"]
    (line,) = period["meters"]
    assert (line["quantity_invoiced"], line["quantity_now"], line["amount_pending"]) == ("3870", "3990", "1.20")
