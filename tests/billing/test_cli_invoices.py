"""``meterbase invoices run``: bills every due subscription once; a re-run is a no-op."""

from __future__ import annotations

from datetime import datetime, timezone

from typer.testing import CliRunner

from meterbase.cli.invoices import period_cutoff
from meterbase.cli.main import app
from meterbase.storage import open_store
from meterbase.invoicing import Billing

runner = CliRunner()


def seed(url: str) -> tuple[str, str]:
    store = open_store(url)
    meter = store.create_meter("test_mode", {"name": "calls", "event_name": "api.call", "aggregation": {"type": "count"},
                                             "measurement_unit": "calls"})
    calls = [{"event_id": f"e{i}", "customer_id": "cus_a", "event_name": "api.call",
              "timestamp": "2025-01-10T00:00:00Z"} for i in range(2500)]
    calls += [{"event_id": f"f{i}", "customer_id": "cus_b", "event_name": "api.call",
               "timestamp": "2025-02-10T00:00:00Z"} for i in range(1200)]
    for i in range(0, len(calls), 1000):
        store.ingest("test_mode", calls[i:i + 1000])
    b = Billing(store)
    product = b.create_product("test_mode", {"name": "API", "currency": "USD", "fixed_fee": "5.00",
                                             "meters": [{"meter_id": meter.id, "price_per_unit": "0.02",
                                                         "free_threshold": 1000}]})
    subs = []
    for cus in ("cus_a", "cus_b"):
        b.create_customer("test_mode", {"id": cus, "email": f"{cus}@x.io", "name": cus})
        subs.append(b.create_subscription("test_mode", {"customer_id": cus, "product_id": product.id,
                                                        "start": "2025-01-01T00:00:00Z"}).id)
    store.close()
    return subs[0], subs[1]


def test_invoices_run_is_idempotent(db_url):
    sub_a, sub_b = seed(db_url)
    first = runner.invoke(app, ["invoices", "run", "--period", "2025-02", "--db", db_url])
    assert first.exit_code == 0, first.output
    assert "4 created, 0 already existed" in first.output  # 2 subscriptions × (Jan, Feb)
    again = runner.invoke(app, ["invoices", "run", "--period", "2025-02", "--db", db_url])
    assert again.exit_code == 0 and "0 created" in again.output, again.output

    store = open_store(db_url)
    invoices = Billing(store).list_invoices("test_mode", 100)
    got = sorted((i.subscription_id, i.period_start, str(i.total), i.status) for i in invoices)
    jan, feb = 1735689600000000, 1738368000000000
    assert got == sorted([(sub_a, jan, "35.00", "draft"), (sub_a, feb, "5.00", "draft"),
                          (sub_b, jan, "5.00", "draft"), (sub_b, feb, "9.00", "draft")])

    final = runner.invoke(app, ["invoices", "run", "--period", "2025-02", "--finalize", "--db", db_url])
    assert final.exit_code == 0 and "0 created, 4 already existed, 4 finalized" in final.output, final.output
    rerun = runner.invoke(app, ["invoices", "run", "--period", "2025-02", "--finalize", "--db", db_url]).output
    assert "done: 0 created, 0 already existed, 0 finalized" in " ".join(rerun.split())
    listed = runner.invoke(app, ["invoices", "list", "--db", db_url, "--status", "finalized"])
    assert listed.exit_code == 0 and listed.output.count("finalized") == 4


def test_period_cutoff_forms():
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert period_cutoff("2025-01", now) == datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert period_cutoff("2025-12", now) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert period_cutoff("2025", now) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert period_cutoff("2025-03-04T05:00:00Z", now) == datetime(2025, 3, 4, 5, tzinfo=timezone.utc)
    assert period_cutoff(None, now) == now


def test_bad_period_is_a_clean_error(db_url):
    r = runner.invoke(app, ["invoices", "run", "--period", "last month", "--db", db_url])
    assert r.exit_code == 2 and "--period" in r.output


def test_concurrent_runs_create_one_invoice_per_period(db_url):
    import threading

    seed(db_url)
    stores = [open_store(db_url) for _ in range(4)]
    results, errors = [], []

    def go(store):
        try:
            results.append(Billing(store).run(datetime(2025, 3, 1, tzinfo=timezone.utc), "test_mode"))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    created = [i for r in results for i in r.created]
    assert len(created) == len(set(created)) == 4  # Jan and Feb for two subscriptions, across all runs together
    assert len(Billing(stores[0]).list_invoices("test_mode", 100)) == 4
    for s in stores:
        s.close()
