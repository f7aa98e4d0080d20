"""Audit entries of billing changes: customer creation, invoice finalize / void, invoice runs."""

from __future__ import annotations

from datetime import datetime

from .conftest import UTC


def entries(api, action):
    return api.ok("GET", "/v1/audit", params={"action": action})["data"]


def test_customer_creation_finalize_and_void_are_audited_with_the_key(api):
    me = api.ok("GET", "/v1/me")["id"]
    meter = api.meter("calls", "api.call")
    api.customer("cus_audit")
    [created] = entries(api, "customer.created")
    assert (created["target"], created["actor"]) == ("cus_audit", me)
    assert created["details"] == {"email": "cus_audit@example.com", "name": "cus_audit"}

    product = api.product([{"meter_id": meter, "price_per_unit": "1.00"}], fixed_fee="2.50")
    sub = api.subscribe("cus_audit", product)
    api.events("cus_audit", "api.call", datetime(2025, 1, 5, tzinfo=UTC), 3)
    inv = api.invoice(sub, "2025-01-15T00:00:00Z", 201)
    assert entries(api, "invoice.finalized") == []
    api.ok("POST", f"/v1/invoices/{inv['id']}/finalize")
    api.ok("POST", f"/v1/invoices/{inv['id']}/finalize")  # idempotent: no second entry
    [final] = entries(api, "invoice.finalized")
    assert (final["target"], final["actor"]) == (inv["id"], me)
    assert final["details"] == {"customer_id": "cus_audit", "total": "5.50", "currency": "USD"}
    api.ok("POST", f"/v1/invoices/{inv['id']}/void")
    api.ok("POST", f"/v1/invoices/{inv['id']}/void")
    [void] = entries(api, "invoice.voided")
    assert void["target"] == inv["id"] and void["details"]["total"] == "5.50"


def test_a_run_records_what_it_created_and_finalized(api):
    meter = api.meter("calls", "api.call")
    product = api.product([{"meter_id": meter, "price_per_unit": "1.00"}])
    for cid in ("cus_r1", "cus_r2"):
        api.customer(cid)
        api.subscribe(cid, product)
    done = api.ok("POST", "/v1/invoices/run", json={"until": "2025-03-01T00:00:00Z", "finalize": True})
    assert len(done["created"]) == len(done["finalized"]) == 4
    [run] = entries(api, "invoices.run")
    assert run["details"] == {"created": 4, "finalized": 4}
    api.ok("POST", "/v1/invoices/run", json={"until": "2025-03-01T00:00:00Z", "finalize": True})
    assert len(entries(api, "invoices.run")) == 1  # a re-run changes nothing and records nothing
