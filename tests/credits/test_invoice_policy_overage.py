"""Issue 13 item 3: policy overage becomes money. Seed 004's GPU example through the HTTP API on both backends:
a pro customer consumes 11 hr of GPU through allow() in January; the 3,600 s past the 10 hr soft limit are the
first tier's ($0.0004/s) = $1.44, a line on January's upcoming and finalized invoice (and nothing twice)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.cli.main import app as cli
from meterbase.config import Settings
from meterbase.storage import open_store

UTC = timezone.utc


@pytest.fixture
def clocked(fresh_store_url, clock):
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    try:
        yield Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)
    finally:
        store.close()


def seed_policy(api: Api, seed_text: str) -> None:
    api.ok("PUT", "/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"})


def policy_lines(invoice: dict) -> list[tuple]:
    return [(x["description"], x["quantity"], x["amount"], x["period_start"], x["period_end"])
            for x in invoice["lines"] if x["kind"] == "policy_overage"]


def test_seed_004_gpu_overage_is_a_line_on_the_period_invoice(clocked, clock, seed_text, tmp_path):
    api = clocked
    seed_policy(api, seed_text)
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    api.customer("cus_gpu")
    product = api.product([], fixed_fee="49.00", name="Pro")
    sub = api.subscribe("cus_gpu", product, start="2025-01-01T00:00:00Z")
    # the policy customer is the billing customer (same id), anchored at the subscription's start
    api.ok("POST", "/v1/policy/customers",
           json={"customer_id": "cus_gpu", "plan": "pro", "anchor": "2025-01-01T00:00:00Z"})
    clock.now = datetime(2025, 1, 10, tzinfo=UTC)
    d = api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_gpu", "entitlement": "gpu_compute", "amount": "11hr"})
    assert (d["overage"], d["overage_price"]) == ("3600", "1.44")

    upcoming = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice")
    period = ("2025-01-01T00:00:00Z", "2025-01-31T00:00:00Z")  # seed 004's 30-day period, ending in January
    assert policy_lines(upcoming) == [("gpu_compute overage (gpu_second)", "3600", "1.44", *period)]
    assert upcoming["total"] == "50.44"  # $49.00 + $1.44

    clock.now = datetime(2025, 2, 2, tzinfo=UTC)  # January has ended: bill it, twice
    for _ in range(2):
        api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    invoices = api.ok("GET", "/v1/invoices", params={"customer_id": "cus_gpu"})["data"]
    [jan] = [i for i in invoices if i["period_start"] == "2025-01-01T00:00:00Z"]
    jan = api.ok("GET", f"/v1/invoices/{jan['id']}")
    assert jan["status"] == "finalized" and jan["total"] == "50.44"
    assert policy_lines(jan) == [("gpu_compute overage (gpu_second)", "3600", "1.44", *period)]
    line = [x for x in jan["lines"] if x["kind"] == "policy_overage"][0]
    assert (line["billable_units"], line["exact_amount"], line["unit"], line["entitlement"]) == ("3600", "1.44", "s",
                                                                                                  "gpu_compute")

    # February's usage falls in the policy period Jan 31 - Mar 2: billed on March's invoice, once it has ended
    clock.now = datetime(2025, 2, 10, tzinfo=UTC)
    api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_gpu", "entitlement": "gpu_compute", "amount": "11hr"})
    assert policy_lines(api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice")) == []
    clock.now = datetime(2025, 3, 5, tzinfo=UTC)
    api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    by_start = {i["period_start"]: i for i in api.ok("GET", "/v1/invoices", params={"customer_id": "cus_gpu"})["data"]}
    feb = api.ok("GET", f"/v1/invoices/{by_start['2025-02-01T00:00:00Z']['id']}")
    assert policy_lines(feb) == [] and feb["total"] == "49.00"
    march = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice")
    assert policy_lines(march) == [("gpu_compute overage (gpu_second)", "3600", "1.44", "2025-01-31T00:00:00Z",
                                    "2025-03-02T00:00:00Z")]

    # the CLI shows the January line too
    result = CliRunner().invoke(cli, ["invoices", "show", jan["id"], "--db", api.store.url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "gpu_compute overage" in result.output and "1.44" in result.output


def test_a_customer_without_subscription_has_no_invoice_but_keeps_the_overage_listed(clocked, clock, seed_text):
    api = clocked
    seed_policy(api, seed_text)
    api.ok("POST", "/v1/policy/customers", json={"customer_id": "cus_free", "plan": "pro"})
    api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_free", "entitlement": "gpu_compute", "amount": "11hr"})
    listed = api.ok("GET", "/v1/policy/customers/cus_free/overage")["data"]
    assert [x["line"]["amount"] for x in listed] == ["1.44"]
