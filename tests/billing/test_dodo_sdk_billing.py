"""The official ``dodopayments`` SDK (strict response validation) against a live server:
customers, a usage-based product (meter_id, price_per_unit in cents, free_threshold) and a
subscription; then the seed's $30.00 from the native upcoming-invoice route."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import dodopayments
import pytest
from dodopayments import DodoPayments

from meterbase.storage import open_store
from support.server import start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dodo_billing")
    db_url = f"sqlite:///{tmp}/live.db"
    store = open_store(db_url)
    key, _ = store.create_key("sdk", "test_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log")
    yield url, key
    stop_server(proc)


@pytest.fixture(scope="module")
def sdk(server) -> DodoPayments:
    url, key = server
    return DodoPayments(bearer_token=key, base_url=url, max_retries=0, _strict_response_validation=True)


def usage_price(meter_id: str, price_per_unit: str, free: int, fixed: int = 0) -> dict:
    return {"type": "usage_based_price", "currency": "USD", "fixed_price": fixed, "payment_frequency_count": 1,
            "payment_frequency_interval": "Month", "subscription_period_count": 20,
            "subscription_period_interval": "Year",
            "meters": [{"meter_id": meter_id, "price_per_unit": price_per_unit, "free_threshold": free}]}


def test_sdk_product_customer_subscription_and_seed_invoice(sdk, server):
    url, key = server
    meter = sdk.meters.create(name="API Requests", event_name="api.call", measurement_unit="calls",
                              aggregation={"type": "count"})
    customer = sdk.customers.create(email="ada@example.com", name="Ada")
    assert sdk.customers.retrieve(customer.customer_id).email == "ada@example.com"
    assert customer.customer_id in [c.customer_id for c in sdk.customers.list(page_number=0, page_size=100).items]

    # $0.02 per call is "2" (Dodo's price_per_unit is in the currency's minor unit)
    product = sdk.products.create(name="API plan", tax_category="saas", price=usage_price(meter.id, "2", 1000))
    assert product.price.type == "usage_based_price"
    [line] = sdk.products.retrieve(product.product_id).price.meters
    assert (line.meter_id, line.price_per_unit, line.free_threshold) == (meter.id, "2", 1000)
    listed = {p.product_id: p for p in sdk.products.list(page_number=0, page_size=100).items}
    assert listed[product.product_id].price_detail.meters[0].meter_id == meter.id

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        created = sdk.subscriptions.create(billing={"country": "US"}, customer={"customer_id": customer.customer_id},
                                           product_id=product.product_id, quantity=1)
    sub = sdk.subscriptions.retrieve(created.subscription_id)
    assert (sub.status, sub.product_id, sub.customer.customer_id) == ("active", product.product_id, customer.customer_id)
    assert sub.payment_frequency_interval == "Month" and sub.recurring_pre_tax_amount == 0
    assert [(m.meter_id, m.price_per_unit, m.free_threshold, m.measurement_unit) for m in sub.meters] == [
        (meter.id, "2", 1000, "calls")]
    assert sub.next_billing_date > sub.previous_billing_date
    items = sdk.subscriptions.list(customer_id=customer.customer_id, page_number=0).items
    assert [s.subscription_id for s in items] == [sub.subscription_id]

    now = datetime.now(timezone.utc)
    events = [{"event_id": f"sdk_call_{i}", "customer_id": customer.customer_id, "event_name": "api.call",
               "timestamp": now} for i in range(2500)]
    assert sum(sdk.usage_events.ingest(events=events[i:i + 1000]).ingested_count for i in range(0, 2500, 1000)) == 2500

    import httpx

    at = (now + timedelta(seconds=1)).isoformat()
    r = httpx.get(f"{url}/v1/subscriptions/{sub.subscription_id}/upcoming-invoice", params={"at": at},
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert [(ln["quantity"], ln["billable_units"], ln["unit_price"], ln["amount"]) for ln in preview["lines"]] == [
        ("2500", "1500", "0.02", "30.00")]
    assert preview["total"] == "30.00"


def test_sdk_errors(sdk):
    with pytest.raises(dodopayments.NotFoundError):
        sdk.subscriptions.retrieve("sub_missing")
    with pytest.raises(dodopayments.NotFoundError):
        sdk.products.retrieve("prd_missing")
    with pytest.raises(dodopayments.UnprocessableEntityError) as err:
        sdk.products.create(name="x", tax_category="saas", price=usage_price("mtr_missing", "2", 0))
    assert err.value.body["field"] == "meters[0].meter_id"
    with pytest.raises(dodopayments.UnprocessableEntityError):
        sdk.products.create(name="x", tax_category="saas",
                            price={"type": "one_time_price", "currency": "USD", "price": 100})
