"""Invoice lifecycle through HTTP (draft → finalized → void), late events, cancellation, 422s."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import select

from meterbase.storage.schema import webhook_outbox

from .conftest import UTC

JAN = datetime(2025, 1, 10, tzinfo=UTC)


def simple(api, customer="cus_l", fixed_fee="0"):
    meter = api.meter("calls", "api.call")
    api.customer(customer)
    product = api.product([{"meter_id": meter, "price_per_unit": "1.00"}], fixed_fee=fixed_fee)
    return meter, product, api.subscribe(customer, product)


def test_finalize_freezes_lines_late_events_do_not_change_it_then_void(api):
    meter, product, sub = simple(api)
    api.events("cus_l", "api.call", JAN, 10)
    draft = api.invoice(sub, "2025-01-15T00:00:00Z", 201)
    assert (draft["status"], draft["total"]) == ("draft", "10.00")

    api.events("cus_l", "api.call", datetime(2025, 1, 20, tzinfo=UTC), 1)  # late, but before finalization
    final = api.ok("POST", f"/v1/invoices/{draft['id']}/finalize")
    assert (final["status"], final["total"], final["lines"][0]["quantity"]) == ("finalized", "11.00", "11")
    assert final["finalized_at"] is not None

    api.events("cus_l", "api.call", datetime(2025, 1, 21, tzinfo=UTC), 5)  # late, after finalization
    assert api.ok("GET", f"/v1/invoices/{draft['id']}") == final
    assert api.ok("POST", f"/v1/invoices/{draft['id']}/finalize") == final  # idempotent
    assert api.ok("POST", "/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z"})["created"] == []
    assert api.ok("GET", f"/v1/invoices/{draft['id']}")["total"] == "11.00"
    # the preview of that (past) period does see the late events: only the final invoice is frozen
    assert api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})["total"] == "16.00"

    voided = api.ok("POST", f"/v1/invoices/{draft['id']}/void")
    assert (voided["status"], voided["total"]) == ("void", "11.00") and voided["voided_at"]
    r = api.c.post(f"/v1/invoices/{draft['id']}/finalize")
    assert r.status_code == 409
    assert api.ok("GET", "/v1/invoices", params={"status": "void"})["data"][0]["id"] == draft["id"]


def test_webhook_messages_are_queued_with_the_invoice(api):
    from meterbase.webhooks import add_endpoint

    with api.store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", ["invoice.created", "invoice.finalized"], 0)
    _, _, sub = simple(api)
    api.events("cus_l", "api.call", JAN, 3)
    inv = api.invoice(sub, "2025-01-15T00:00:00Z", 201)
    api.invoice(sub, "2025-01-15T00:00:00Z", 200)  # re-request: no second message
    api.ok("POST", f"/v1/invoices/{inv['id']}/finalize")
    api.ok("POST", f"/v1/invoices/{inv['id']}/void")  # not subscribed: no message
    with api.store.read() as conn:
        rows = conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)
                            .order_by(webhook_outbox.c.created_at)).all()
    assert [r.event_type for r in rows] == ["invoice.created", "invoice.finalized"]
    body = orjson.loads(rows[1].payload)
    assert body["type"] == "invoice.finalized" and body["data"]["id"] == inv["id"] and body["data"]["total"] == "3.00"


def test_usage_threshold_event_fires_once_per_period(api):
    from meterbase.webhooks import add_endpoint

    with api.store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", [], 0)
    meter = api.meter("calls", "api.call")
    api.customer("cus_t")
    product = api.product([{"meter_id": meter, "price_per_unit": "0.10"}])
    sub = api.subscribe("cus_t", product, start="2025-01-01T00:00:00Z",
                        thresholds=[{"meter_id": meter, "quantity": 100}, {"amount": "50"}])
    api.events("cus_t", "api.call", JAN, 150)
    from meterbase.invoicing import Billing

    billing = Billing(api.store)
    assert billing.check_thresholds("test_mode", sub, datetime(2025, 1, 20, tzinfo=UTC)) == [f"meter:{meter}:100"]
    assert billing.check_thresholds("test_mode", sub, datetime(2025, 1, 21, tzinfo=UTC)) == []
    api.events("cus_t", "api.call", JAN, 400)  # 550 calls = $55.00
    assert billing.check_thresholds("test_mode", sub, datetime(2025, 1, 22, tzinfo=UTC)) == ["amount:50"]
    with api.store.read() as conn:
        types = [r.event_type for r in conn.execute(select(webhook_outbox.c.event_type))]
    assert types.count("usage.threshold_reached") == 2


def test_cancel_at_period_end_stops_billing(api):
    _, _, sub = simple(api, fixed_fee="10.00")
    got = api.ok("POST", f"/v1/subscriptions/{sub}/cancel", json={"at_period_end": True})
    assert got["cancel_at_period_end"] is True and got["status"] == "active"
    ends = got["ends_at"]
    run = api.ok("POST", "/v1/invoices/run", json={})
    invoices = api.ok("GET", "/v1/invoices", params={"subscription_id": sub})["data"]
    assert len(run["created"]) == len(invoices) and max(i["period_end"] for i in invoices) <= ends
    assert api.ok("POST", "/v1/invoices/run", json={})["created"] == []


def test_validation_errors_name_the_field(api):
    meter = api.meter("calls", "api.call")
    api.customer("cus_v")
    cases = [
        ({"name": "p", "currency": "USD", "meters": [{"meter_id": meter, "price_per_unit": "0.01"}] * 11}, "meters"),
        ({"name": "p", "currency": "USD", "meters": [{"meter_id": "mtr_nope", "price_per_unit": "0.01"}]},
         "meters[0].meter_id"),
        ({"name": "p", "currency": "USD", "meters": [{"meter_id": meter, "price_per_unit": "-1"}]},
         "meters[0].price_per_unit"),
        ({"name": "p", "currency": "USD", "fixed_fee": "49.001"}, "fixed_fee"),
        ({"name": "p", "currency": "XXX"}, "currency"),
        ({"name": "p", "currency": "USD", "meters": [{"meter_id": meter, "price": {"model": "graduated", "tiers": []}}]},
         "meters[0].price.tiers"),
        ({"name": "p", "currency": "USD", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = api.c.post("/v1/products", json=body)
        assert r.status_code == 422 and r.json()["field"] == field and r.json()["code"] == "validation_error", r.text
    product = api.product([{"meter_id": meter, "price_per_unit": "0.01"}])
    eur = api.product([], fixed_fee="5", currency="EUR")
    sub = api.subscribe("cus_v", product)
    for path, body, field in [
        ("/v1/subscriptions", {"customer_id": "cus_v", "product_id": product, "anchor_day": 32}, "anchor_day"),
        ("/v1/subscriptions", {"customer_id": "cus_v", "product_id": "prd_nope"}, "product_id"),
        ("/v1/subscriptions", {"customer_id": "cus_v", "product_id": product, "start": "soon"}, "start"),
        (f"/v1/subscriptions/{sub}/change-plan", {"product_id": eur, "effective_at": "2025-02-01T00:00:00Z"}, "product_id"),
        (f"/v1/subscriptions/{sub}/invoices", {"at": "2999-01-01T00:00:00Z"}, "at"),
    ]:
        r = api.c.post(path, json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert api.c.get("/v1/invoices/inv_nope").status_code == 404
    assert api.c.post("/v1/customers", json={"id": "cus_v", "email": "a@b.c", "name": "x"}).status_code == 409
