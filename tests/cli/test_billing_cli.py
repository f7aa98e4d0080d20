"""Billing from the CLI: customers, products, subscriptions (create, list, show), invoices show /
finalize / void, one default database, and expected failures as one line without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from meterbase.cli.main import app
from meterbase.storage import open_store

runner = CliRunner()


@pytest.fixture()
def db(tmp_path):
    return f"sqlite:///{tmp_path}/billing-cli.db"


def ok(*args, db=None) -> str:
    argv = [*args, *(["--db", db] if db else [])]
    r = runner.invoke(app, argv, env={"COLUMNS": "200"})
    assert r.exit_code == 0, (argv, r.output)
    return r.output


def test_customer_product_subscription_invoice_from_the_command_line(db):
    store = open_store(db)
    calls = store.create_meter("test_mode", {"name": "calls", "event_name": "api.call", "measurement_unit": "calls",
                                             "aggregation": {"type": "count"}})
    gpu = store.create_meter("test_mode", {"name": "GPU", "event_name": "gpu", "measurement_unit": "s",
                                           "aggregation": {"type": "sum", "key": "seconds"}})
    events = [{"event_id": f"c{i}", "customer_id": "cus_cli", "event_name": "api.call",
               "timestamp": "2025-01-10T00:00:00Z"} for i in range(2500)]
    events.append({"event_id": "g1", "customer_id": "cus_cli", "event_name": "gpu",
                   "timestamp": "2025-01-12T00:00:00Z", "metadata": {"seconds": 40000}})
    for lo in range(0, len(events), 1000):
        store.ingest("test_mode", events[lo:lo + 1000])
    store.close()

    assert "created cus_cli (Cli Corp <ap@cli.example>)" in ok(
        "customers", "create", "--id", "cus_cli", "--name", "Cli Corp", "--email", "ap@cli.example", db=db)
    tiers = json.dumps({"meter_id": gpu.id, "price": {"model": "graduated", "tiers": [
        {"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
        {"up_to": None, "unit_price": "0.0003"}]}})
    out = ok("products", "create", "--name", "Hybrid", "--fixed-fee", "49.00", "--meter", f"{calls.id}:0.02:1000",
             "--meter-json", tiers, db=db)
    product = out.split("created ")[1].split()[0]
    shown = ok("products", "show", product, db=db)
    assert "fixed fee: $49.00" in shown and "first 1,000 calls free" in shown
    assert "1 h 00 min – 10 h 00 min: $0.00035 per unit" in shown
    assert "Hybrid" in ok("products", "list", db=db)

    out = ok("subscriptions", "create", "--customer", "cus_cli", "--product", product, "--start", "2025-01-01T00:00:00Z",
             db=db)
    sub = out.split("created ")[1].split()[0]
    assert sub in ok("subscriptions", "list", "--customer", "cus_cli", db=db)
    # 49.00 + (2,500 − 1,000 free) × 0.02 = 30.00 + 40,000 GPU seconds over seed 004's tiers = 13.98
    assert "1 created" in ok("invoices", "run", "--period", "2025-01", db=db)
    listed = ok("invoices", "list", "--customer", "cus_cli", db=db)
    assert "$92.98" in listed and "draft" in listed
    invoice = listed.split("inv_")[1].split()[0]
    detail = ok("invoices", "show", "inv_" + invoice, db=db)
    assert "2,500 calls" in detail and "1,000 calls" in detail and "1,500 calls" in detail and "$30.00" in detail
    assert "11 h 06 min 40 s" in detail and "$13.98" in detail and "total $92.98" in detail
    assert "tier 1 h 00 min – 10 h 00 min" in detail and "$11.34" in detail
    assert "finalized $92.98" in ok("invoices", "finalize", "inv_" + invoice, db=db)
    customer = ok("customers", "show", "cus_cli", db=db)
    assert "Cli Corp" in customer and "finalized" in customer and "$92.98" in customer
    assert "cus_cli" in ok("customers", "list", "--search", "cli corp", db=db)
    assert "void $92.98" in ok("invoices", "void", "inv_" + invoice, db=db)
    audit = ok("audit", "list", "--json", db=db)
    actions = [json.loads(line)["action"] for line in audit.splitlines()]
    assert {"customer.created", "invoice.finalized", "invoice.voided"} <= set(actions)


@pytest.mark.parametrize("argv, message", [
    (["meters", "create", "--name", "x", "--event-name", "y", "--filter", "{bad"], "--filter is not valid JSON"),
    (["invoices", "show", "inv_nope"], "invoice 'inv_nope' not found"),
    (["invoices", "void", "inv_nope"], "invoice 'inv_nope' not found"),
    (["customers", "show", "cus_nope"], "customer 'cus_nope' not found"),
    (["customers", "create", "--name", "X", "--email", "not-an-email"], "email must be an email address"),
    (["products", "show", "prd_nope"], "product 'prd_nope' not found"),
    (["products", "create", "--name", "P", "--meter", "mtr_x"], "--meter takes METER_ID:UNIT_PRICE"),
    (["subscriptions", "create", "--customer", "cus_nope", "--product", "prd_x"], "customer 'cus_nope' not found"),
    (["subscriptions", "show", "sub_nope"], "subscription 'sub_nope' not found"),
    (["products", "create", "--file", "/nonexistent/product.json"], "No such file or directory"),
])
def test_expected_failures_are_one_line_and_exit_2(db, argv, message):
    r = runner.invoke(app, [*argv, "--db", db])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.output
    assert "Traceback" not in r.output


def test_an_unreachable_database_is_one_line(tmp_path):
    r = runner.invoke(app, ["customers", "list", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert r.exit_code == 2 and "cannot use the database" in r.output and "Traceback" not in r.output


def test_without_db_the_cli_uses_the_database_make_run_serves(tmp_path):
    """No --db, no MB_DATABASE_URL: var/meterbase.db in the working directory (what `make run` serves)."""
    env = {k: v for k, v in os.environ.items() if k != "MB_DATABASE_URL"}
    run = subprocess.run([sys.executable, "-m", "meterbase", "customers", "create", "--name", "N", "--email", "n@x.io",
                          "--id", "cus_default"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "var" / "meterbase.db").exists() and not (tmp_path / "meterbase.db").exists()
    store = open_store(f"sqlite:///{tmp_path}/var/meterbase.db")
    from meterbase.invoicing import Billing

    assert Billing(store).get_customer("test_mode", "cus_default").email == "n@x.io"
    store.close()
