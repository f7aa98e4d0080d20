"""Late usage is never lost (issue 17): grace periods, and carry-forward adjustments, through HTTP with a
clock that moves through several periods (Lago-style scenarios), on both backends.

The product of every scenario: calls at $0.02 past 1,000 free a month, seed 004's graduated GPU tiers
(first 3,600 s at $0.0004, then $0.00035 to 36,000 s, then $0.0003) and tokens at $0.01 (a ``sum``
meter, so a late negative event is a refund).
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import select

from meterbase.storage.schema import webhook_outbox
from meterbase.webhooks import add_endpoint

from .conftest import UTC

GPU_TIERS = [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
             {"up_to": None, "unit_price": "0.0003"}]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def world(api, clock, **product_extra):
    """A customer on the product above from 2025-01-01; the clock at 2025-01-20."""
    api.store.clock = clock
    clock.now = t("2025-01-20T00:00:00")
    meters = {"calls": api.meter("Calls", "api.call"), "gpu": api.meter("GPU", "gpu", "sum", "s"),
              "tokens": api.meter("Tokens", "tok", "sum", "n")}
    product = api.product([
        {"meter_id": meters["calls"], "price_per_unit": "0.02", "free_threshold": 1000, "description": "Calls"},
        {"meter_id": meters["gpu"], "price": {"model": "graduated", "tiers": GPU_TIERS}, "description": "GPU"},
        {"meter_id": meters["tokens"], "price_per_unit": "0.01", "description": "Tokens"},
    ], **product_extra)
    api.customer("cus_late")
    return meters, api.subscribe("cus_late", product)


def run(api, **body) -> dict:
    return api.ok("POST", "/v1/invoices/run", json=body)


def invoice_of(api, sub: str, start: str) -> dict:
    found = [i for i in api.ok("GET", "/v1/invoices", params={"subscription_id": sub})["data"]
             if i["period_start"] == start]
    assert len(found) == 1, found
    return found[0]


def adjustment_lines(invoice: dict) -> list[tuple]:
    return [(ln["description"], ln["quantity"], ln["amount"]) for ln in invoice["lines"] if ln["kind"] == "adjustment"]


def test_late_january_usage_is_billed_on_february_as_the_exact_difference(api, clock):
    _, sub = world(api, clock)
    api.events("cus_late", "api.call", t("2025-01-10T00:00:00"), 800)  # 800 of the 1,000 free calls
    api.events("cus_late", "gpu", t("2025-01-11T00:00:00"), 1, {"s": "3000"})  # inside the first tier
    api.events("cus_late", "tok", t("2025-01-12T00:00:00"), 1, {"n": "1000"})
    clock.now = t("2025-02-01T06:00:00")
    jan = run(api, finalize=True)
    assert len(jan["created"]) == len(jan["finalized"]) == 1 and jan["skipped"] == [] and jan["adjustments"] == []
    january = api.ok("GET", f"/v1/invoices/{jan['created'][0]}")
    assert january["total"] == "11.20"  # calls free, 3,000 s × $0.0004 = $1.20, 1,000 tokens × $0.01 = $10.00

    # February: late January events arrive (and some February usage)
    clock.now = t("2025-02-10T00:00:00")
    api.events("cus_late", "api.call", t("2025-01-31T23:00:00"), 500)  # 1,300 calls: the free allowance ends
    api.events("cus_late", "gpu", t("2025-01-31T23:30:00"), 1, {"s": "1000"})  # 4,000 s: crosses 3,600
    api.events("cus_late", "tok", t("2025-01-31T23:45:00"), 1, {"n": "-300"})  # a refund: a credit
    api.events("cus_late", "api.call", t("2025-02-05T00:00:00"), 200)
    periods = api.ok("GET", f"/v1/subscriptions/{sub}/periods")["data"]
    assert [(p["period_start"], p["status"], p["amount_pending"]) for p in periods] == [
        ("2025-01-01T00:00:00Z", "finalized", "3.38")]
    calls = next(m for m in periods[0]["meters"] if m["description"] == "Calls")
    assert (calls["quantity_invoiced"], calls["quantity_now"], calls["quantity_pending"], calls["amount_pending"]) == (
        "800", "1300", "500", "6.00")
    assert api.ok("GET", f"/v1/invoices/{january['id']}") == january  # a finalized invoice never changes

    mid = run(api, finalize=True)  # February has not ended: the adjustments wait, pending, for its invoice
    assert mid["created"] == [] and len(mid["adjustments"]) == 3
    pending = api.ok("GET", "/v1/adjustments", params={"subscription_id": sub, "status": "pending"})["data"]
    assert sorted((a["description"], a["quantity"], a["amount"]) for a in pending) == [
        ("Calls: usage for 2025-01 received after invoicing", "500", "6.00"),  # (1,300 − 1,000) × $0.02, not 500 × $0.02
        ("GPU: usage for 2025-01 received after invoicing", "1000", "0.38"),  # $1.58 − $1.20, not 1,000 × $0.0004
        ("Tokens: correction of usage for 2025-01 after invoicing (credit)", "-300", "-3.00"),
    ]
    upcoming = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice")
    assert upcoming["total"] == "3.38" and len(adjustment_lines(upcoming)) == 3  # 200 Feb calls are free
    assert run(api, finalize=True)["adjustments"] == []  # rerun: nothing new

    clock.now = t("2025-03-01T01:00:00")
    feb = run(api, finalize=True)
    assert feb["adjustments"] == [] and len(feb["created"]) == len(feb["finalized"]) == 1
    february = api.ok("GET", f"/v1/invoices/{feb['created'][0]}")
    assert adjustment_lines(february) == [
        ("Calls: usage for 2025-01 received after invoicing", "500", "6.00"),
        ("GPU: usage for 2025-01 received after invoicing", "1000", "0.38"),
        ("Tokens: correction of usage for 2025-01 after invoicing (credit)", "-300", "-3.00"),
    ]
    assert february["total"] == "3.38"  # February's own usage is free; $6.00 + $0.38 − $3.00
    adj = next(ln for ln in february["lines"] if ln["kind"] == "adjustment")
    assert (adj["period_start"], adj["adjusts_invoice_id"], adj["quantity_invoiced"], adj["quantity_now"]) == (
        "2025-01-01T00:00:00Z", january["id"], "800", "1300")
    assert {a["status"] for a in api.ok("GET", "/v1/adjustments", params={"subscription_id": sub})["data"]} == {
        "invoiced"}
    assert [p["amount_pending"] for p in api.ok("GET", f"/v1/subscriptions/{sub}/periods")["data"]] == ["0.00", "0.00"]

    again = run(api, finalize=True)  # rerun: never twice
    assert again["created"] == again["adjustments"] == again["finalized"] == []

    # more late January usage in March: a second adjustment, priced from where the first left off
    clock.now = t("2025-03-10T00:00:00")
    api.events("cus_late", "api.call", t("2025-01-20T00:00:00"), 100)
    assert len(run(api)["adjustments"]) == 1
    clock.now = t("2025-04-01T00:00:00")
    march = api.ok("GET", f"/v1/invoices/{run(api, finalize=True)['created'][0]}")
    assert adjustment_lines(march) == [("Calls: usage for 2025-01 received after invoicing", "100", "2.00")]
    assert api.ok("GET", f"/v1/invoices/{january['id']}") == january and \
        api.ok("GET", f"/v1/invoices/{february['id']}") == february


def test_grace_period_keeps_the_draft_repriced_until_it_has_passed(api, clock):
    _, sub = world(api, clock, grace_period_hours=48)
    api.events("cus_late", "api.call", t("2025-01-10T00:00:00"), 1500)
    clock.now = t("2025-02-01T12:00:00")
    first = run(api, finalize=True)
    assert first["finalized"] == [] and first["in_grace"] == first["created"]  # 36 h left
    draft_id = first["created"][0]
    assert api.ok("GET", f"/v1/invoices/{draft_id}")["total"] == "10.00"

    clock.now = t("2025-02-02T12:00:00")
    api.events("cus_late", "api.call", t("2025-01-31T22:00:00"), 250)  # late, inside the grace period
    second = run(api)  # not finalizing: the draft is re-priced
    assert second["existing"] == [draft_id] and second["adjustments"] == []
    assert api.ok("GET", f"/v1/invoices/{draft_id}")["total"] == "15.00"  # (1,750 − 1,000) × $0.02

    clock.now = t("2025-02-03T00:00:00")  # the grace period has passed
    final = run(api, finalize=True)
    assert final["finalized"] == [draft_id] and final["in_grace"] == []
    invoice = api.ok("GET", f"/v1/invoices/{draft_id}")
    assert (invoice["status"], invoice["total"]) == ("finalized", "15.00")
    assert api.ok("GET", "/v1/adjustments", params={"subscription_id": sub})["data"] == []  # nothing was late


def test_finalize_now_ignores_the_grace_period_and_the_subscription_overrides_the_product(api, clock):
    _, sub = world(api, clock, grace_period_hours=48)
    clock.now = t("2025-02-01T01:00:00")
    assert api.ok("GET", f"/v1/subscriptions/{sub}")["grace_period_hours"] is None
    assert run(api, finalize=True)["finalized"] == []
    assert len(run(api, finalize_now=True)["finalized"]) == 1

    product = api.ok("GET", "/v1/products")["data"][0]
    assert product["grace_period_hours"] == 48
    api.customer("cus_quick")
    quick = api.subscribe("cus_quick", product["id"], grace_period_hours=0)
    assert api.ok("GET", f"/v1/subscriptions/{quick}")["grace_period_hours"] == 0
    assert len(run(api, finalize=True)["finalized"]) == 1  # cus_quick's January: no grace period
    bad = api.c.post("/v1/subscriptions", json={"customer_id": "cus_quick", "product_id": product["id"],
                                                "grace_period_hours": -1})
    assert bad.status_code == 422 and bad.json()["field"] == "grace_period_hours"
    bad = api.c.post("/v1/invoices/run", json={"lookback_days": "90"})
    assert bad.status_code == 422 and bad.json()["field"] == "lookback_days"


def test_voiding_the_invoice_that_carries_an_adjustment_hands_it_to_the_next_one(api, clock):
    _, sub = world(api, clock)
    api.events("cus_late", "api.call", t("2025-01-10T00:00:00"), 1000)
    clock.now = t("2025-02-01T01:00:00")
    run(api, finalize=True)
    clock.now = t("2025-02-10T00:00:00")
    api.events("cus_late", "api.call", t("2025-01-15T00:00:00"), 50)
    clock.now = t("2025-03-01T01:00:00")
    feb = run(api)  # February's draft carries the adjustment
    assert len(feb["adjustments"]) == 1
    draft = api.ok("GET", f"/v1/invoices/{feb['created'][0]}")
    assert adjustment_lines(draft) == [("Calls: usage for 2025-01 received after invoicing", "50", "1.00")]
    assert api.ok("GET", "/v1/adjustments", params={"subscription_id": sub})["data"][0]["status"] == "carried"
    api.ok("POST", f"/v1/invoices/{draft['id']}/void")
    assert api.ok("GET", "/v1/adjustments", params={"subscription_id": sub})["data"][0]["status"] == "pending"
    clock.now = t("2025-04-01T01:00:00")
    march = api.ok("GET", f"/v1/invoices/{run(api, finalize=True)['created'][0]}")
    assert adjustment_lines(march) == [("Calls: usage for 2025-01 received after invoicing", "50", "1.00")]


def test_adjustment_pending_webhook_and_the_lookback(api, clock):
    with api.store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", ["invoice.adjustment_pending"], 0)
    _, sub = world(api, clock)
    clock.now = t("2025-02-01T01:00:00")
    run(api, finalize=True)
    clock.now = t("2025-02-10T00:00:00")
    api.events("cus_late", "api.call", t("2025-01-15T00:00:00"), 1200)  # 9 days after January ended
    clock.now = t("2025-06-01T01:00:00")  # the next run comes four months later: it still finds them
    found = run(api, finalize=True)
    assert len(found["adjustments"]) == 1 and len(found["created"]) == 4  # February to May
    with api.store.read() as conn:
        rows = conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)).all()
    assert [r.event_type for r in rows] == ["invoice.adjustment_pending"]
    data = orjson.loads(rows[0].payload)["data"]
    assert (data["subscription_id"], data["period_start"], data["quantity"], data["amount"], data["status"]) == (
        sub, "2025-01-01T00:00:00Z", "1200", "4.00", "pending")  # (1,200 − 1,000 free) × $0.02
    february = invoice_of(api, sub, "2025-02-01T00:00:00Z")
    assert adjustment_lines(february) == [("Calls: usage for 2025-01 received after invoicing", "1200", "4.00")]

    api.events("cus_late", "api.call", t("2025-01-16T00:00:00"), 10)  # four months after January ended
    assert run(api, finalize=True)["adjustments"] == []  # past the 90-day lookback
    assert len(run(api, lookback_days=365)["adjustments"]) == 1  # a run told to look further back finds them


def test_the_cli_shows_late_usage_and_sets_grace_periods(fresh_store_url):
    from typer.testing import CliRunner

    from meterbase.cli.main import app as cli
    from meterbase.storage import open_store

    db = fresh_store_url()
    store = open_store(db)
    meter = store.create_meter("test_mode", {"name": "Calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    store.close()
    runner = CliRunner()

    def cli_ok(*args: str) -> str:
        out = runner.invoke(cli, [*args, "--db", db])
        assert out.exit_code == 0, out.output
        return " ".join(out.output.split())

    made = cli_ok("products", "create", "--name", "API", "--meter", f"{meter.id}:0.02:1000", "--grace-period-hours", "24")
    product = made.split("created ")[1].split(" ")[0]
    cli_ok("customers", "create", "--id", "cus_cli", "--email", "c@x.io", "--name", "CLI")
    sub = cli_ok("subscriptions", "create", "--customer", "cus_cli", "--product", product, "--start",
                 "2025-01-01T00:00:00Z", "--grace-period-hours", "0").split("created ")[1].split(" ")[0]
    store = open_store(db)
    store.ingest("test_mode", [{"event_id": f"e{i}", "customer_id": "cus_cli", "event_name": "api.call",
                                "timestamp": "2025-01-10T00:00:00Z"} for i in range(900)])
    store.close()
    assert "test_mode: 1 created, 0 already existed, 1 finalized" in cli_ok("invoices", "run", "--period", "2025-01",
                                                                              "--finalize", "--env", "test_mode")
    store = open_store(db)
    store.ingest("test_mode", [{"event_id": f"late{i}", "customer_id": "cus_cli", "event_name": "api.call",
                                "timestamp": "2025-01-31T00:00:00Z"} for i in range(300)])
    store.close()
    periods = cli_ok("invoices", "periods", sub)
    assert "2025-01" in periods and "pending $4.00" in periods and "900" in periods and "1,200" in periods
    assert "1 adjustments of late usage" in cli_ok("invoices", "run", "--period", "2025-01", "--env", "test_mode")
    listed = cli_ok("invoices", "adjustments", "--customer", "cus_cli")
    assert "adj_" in listed and "$4.00" in listed and "pending" in listed and "received" in listed  # (a wrapped table)
    assert "pending $0.00" in cli_ok("invoices", "periods", sub)


def test_concurrent_runs_record_late_usage_once(store, clock):
    from meterbase.invoicing import Billing
    from meterbase.storage import Store
    from support.threads import run_together

    store.clock = clock
    clock.now = t("2025-02-01T01:00:00")
    b = Billing(store)
    meter = store.create_meter("test_mode", {"name": "Calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    product = b.create_product("test_mode", {"name": "p", "currency": "USD", "meters": [
        {"meter_id": meter.id, "price_per_unit": "0.02", "free_threshold": 1000}]})
    for i in range(6):
        b.create_customer("test_mode", {"id": f"cus_{i}", "email": f"{i}@x.io", "name": str(i)})
        b.create_subscription("test_mode", {"customer_id": f"cus_{i}", "product_id": product.id,
                                            "start": "2025-01-01T00:00:00Z"})
    b.run(clock.now, "test_mode", finalize=True)
    clock.now = t("2025-03-01T01:00:00")
    for c in range(6):
        store.ingest("test_mode", [{"event_id": f"late{c}_{i}", "customer_id": f"cus_{c}", "event_name": "api.call",
                                    "timestamp": "2025-01-20T00:00:00Z"} for i in range(1100)][:1000])
        store.ingest("test_mode", [{"event_id": f"late{c}_{i}", "customer_id": f"cus_{c}", "event_name": "api.call",
                                    "timestamp": "2025-01-20T00:00:00Z"} for i in range(1000, 1100)])
    stores = [Store(store.url, clock) for _ in range(4)]
    results = []
    errors = run_together(*[lambda s=s: results.append(Billing(s).run(clock.now, "test_mode", finalize=True))
                            for s in stores])
    for s in stores:
        s.close()
    assert errors == []
    recorded = [a for r in results for a in r.adjustments]
    assert len(recorded) == len(set(recorded)) == 6  # one per customer, whichever run recorded it
    february = b.list_invoices("test_mode", 100, status="finalized")
    feb_totals = sorted(str(i.total) for i in february if i.period_start == 1738368000000000)
    assert feb_totals == ["2.00"] * 6  # (1,100 − 1,000 free) × $0.02 each, carried once
