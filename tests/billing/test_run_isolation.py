"""One bad customer does not stop billing for everyone (issue 19, item 1), on both backends.

Metering accepts values pricing cannot take: refunds larger than a period's usage (a negative ``sum``)
and sums of huge values (≥ 1e30). The run skips exactly those periods -- recorded with subscription,
customer, meter, value and reason, on the run's answer, in ``GET /v1/skipped-periods``, the run's
record and an ``invoice.run_skipped`` webhook -- and bills every other one; test_mode data never
blocks live_mode billing; the preview of a bad customer is a 422 naming the meter and the value.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from meterbase.cli.main import app as cli
from meterbase.invoicing import Billing
from meterbase.storage.schema import webhook_outbox
from meterbase.webhooks import add_endpoint

from .conftest import UTC

HUGE = "9" * 30  # 1e30 − 1: in range, but two of them sum to ≥ 1e30
JAN = datetime(2025, 1, 10, tzinfo=UTC)


def bad_world(api):
    """Five customers on one sum meter at $1: good, refunded (10 − 25 < 0), huge (2 × HUGE ≥ 1e30),
    an avg customer whose average does not terminate (priced by the documented rule), and idle."""
    meter = api.meter("payments", "pay", "sum", "v")
    avg = api.meter("latency", "lat", "avg", "ms")
    product = api.product([{"meter_id": meter, "price_per_unit": "1", "description": "Payments"},
                           {"meter_id": avg, "price_per_unit": "3", "description": "Latency"}])
    values = {"cus_good": ["7"], "cus_refund": ["10", "-25"], "cus_huge": [HUGE, HUGE], "cus_avg": [], "cus_idle": []}
    subs = {}
    for cid, vs in values.items():
        api.customer(cid)
        subs[cid] = api.subscribe(cid, product)
        for v in vs:
            api.events(cid, "pay", JAN, 1, {"v": v})
    for v in ("1", "1", "2"):
        api.events("cus_avg", "lat", JAN, 1, {"ms": v})
    return meter, subs


def test_a_run_skips_and_records_what_it_cannot_price_and_bills_everyone_else(api):
    with api.store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", ["invoice.run_skipped"], 0)
    meter, subs = bad_world(api)
    done = api.ok("POST", "/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z", "finalize": True})
    assert len(done["created"]) == len(done["finalized"]) == 3  # good, avg, idle
    totals = {i["customer_id"]: i["total"] for i in api.ok("GET", "/v1/invoices")["data"]}
    assert totals == {"cus_good": "7.00", "cus_avg": "4.00", "cus_idle": "0.00"}  # avg 1.333… × $3 = $4.00
    skipped = {s["customer_id"]: s for s in done["skipped"]}
    assert set(skipped) == {"cus_refund", "cus_huge"}
    refund, huge = skipped["cus_refund"], skipped["cus_huge"]
    assert (refund["subscription_id"], refund["meter_id"], refund["value"], refund["reason"], refund["kind"]) == (
        subs["cus_refund"], meter, "-15", "negative", "invoice")
    assert (huge["meter_id"], huge["value"], huge["reason"]) == (meter, "1" + "9" * 29 + "8", "too_large")
    assert huge["period_start"] == "2025-01-01T00:00:00Z" and huge["period_end"] == "2025-02-01T00:00:00Z"
    assert meter in refund["message"] and "-15" in refund["message"] and refund["run_id"] == done["run_id"]

    listed = api.ok("GET", "/v1/skipped-periods")["data"]
    assert sorted(s["customer_id"] for s in listed) == ["cus_huge", "cus_refund"]
    assert all(s["resolved_at"] is None for s in listed)
    assert api.ok("GET", "/v1/skipped-periods", params={"customer_id": "cus_huge"})["data"][0]["value"] == huge["value"]
    record = api.ok("GET", f"/v1/invoice-runs/{done['run_id']}")
    assert (record["created"], record["finalized"], record["skipped"], record["finalize"]) == (3, 3, 2, "past_grace")
    assert sorted(s["customer_id"] for s in record["skipped_periods"]) == ["cus_huge", "cus_refund"]
    assert api.ok("GET", "/v1/invoice-runs")["data"][0]["id"] == done["run_id"]

    r = api.c.get(f"/v1/subscriptions/{subs['cus_refund']}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})
    assert r.status_code == 422 and r.json()["code"] == "unbillable_quantity"
    assert meter in r.json()["message"] and "-15" in r.json()["message"]

    again = api.ok("POST", "/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z", "finalize": True})
    assert again["created"] == [] and len(again["skipped"]) == 2  # still skipped, still listed
    with api.store.read() as conn:
        rows = conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)).all()
    assert sorted(orjson.loads(r.payload)["data"]["customer_id"] for r in rows) == ["cus_huge", "cus_refund"]  # once each

    api.events("cus_refund", "pay", JAN, 1, {"v": "20"})  # the data is fixed: 10 − 25 + 20 = 5
    fixed = api.ok("POST", "/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z", "finalize": True})
    assert len(fixed["created"]) == 1 and [s["customer_id"] for s in fixed["skipped"]] == ["cus_huge"]
    assert [s["customer_id"] for s in api.ok("GET", "/v1/skipped-periods")["data"]] == ["cus_huge"]
    assert api.ok("GET", "/v1/invoices", params={"customer_id": "cus_refund"})["data"][0]["total"] == "5.00"


def test_late_refunds_that_make_a_finalized_period_negative_are_skipped_not_credited(api, clock):
    api.store.clock = clock
    clock.now = datetime(2025, 2, 1, 1, tzinfo=UTC)
    meter, subs = bad_world(api)
    api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    clock.now = datetime(2025, 2, 10, tzinfo=UTC)
    api.events("cus_good", "pay", JAN, 1, {"v": "-10"})  # 7 − 10: January is now negative
    done = api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    late = [s for s in done["skipped"] if s["customer_id"] == "cus_good"]
    assert [(s["kind"], s["value"], s["reason"]) for s in late] == [("adjustment", "-3", "negative")]
    assert done["adjustments"] == []  # never silently a credit of $7.00, never billed as 0


def test_test_mode_data_never_blocks_live_mode_billing_in_the_cli(fresh_store_url):
    from meterbase.storage import open_store

    db_url = fresh_store_url()
    store = open_store(db_url)
    b = Billing(store)
    for env, values in (("test_mode", ["10", "-25"]), ("live_mode", ["12"])):
        meter = store.create_meter(env, {"name": "pay", "event_name": "pay", "measurement_unit": "usd",
                                         "aggregation": {"type": "sum", "key": "v"}})
        product = b.create_product(env, {"name": "p", "currency": "USD",
                                         "meters": [{"meter_id": meter.id, "price_per_unit": "1"}]})
        b.create_customer(env, {"id": "cus_x", "email": "x@x.io", "name": "X"})
        b.create_subscription(env, {"customer_id": "cus_x", "product_id": product.id, "start": "2025-01-01T00:00:00Z"})
        store.ingest(env, [{"event_id": f"{env}{i}", "customer_id": "cus_x", "event_name": "pay",
                            "timestamp": "2025-01-10T00:00:00Z", "metadata": {"v": v}} for i, v in enumerate(values)])
    store.close()
    runner = CliRunner()
    out = runner.invoke(cli, ["invoices", "run", "--period", "2025-01", "--finalize", "--db", db_url])
    text = " ".join(out.output.split())
    assert out.exit_code == 0, out.output
    assert "test_mode: 0 created" in text and "1 skipped" in text and "live_mode: 1 created" in text
    assert "cus_x" in text and "-15" in text and "negative" in text  # the skipped table
    strict = runner.invoke(cli, ["invoices", "run", "--period", "2025-01", "--fail-on-skipped", "--db", db_url])
    assert strict.exit_code == 1, strict.output
    listed = runner.invoke(cli, ["invoices", "skipped", "--db", db_url])
    assert listed.exit_code == 0 and "-15" in listed.output and "negative" in listed.output
    assert runner.invoke(cli, ["invoices", "skipped", "--env", "live_mode", "--fail-if-any", "--db", db_url]).exit_code == 0
    runs = runner.invoke(cli, ["invoices", "runs", "--db", db_url])
    assert runs.exit_code == 0 and runs.output.count("run_") == 2
    store = open_store(db_url)
    [live] = Billing(store).list_invoices("live_mode")
    assert (str(live.total), live.status) == ("12.00", "finalized")
    store.close()
