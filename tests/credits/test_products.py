"""Products attach credits (Dodo's credit_entitlements and credit-paid meters) through the HTTP API, both backends:
what a product may attach (422 naming the field), credits issued per subscription cycle from the clock, trial
credits, plan changes, cancellation, and the Dodo shapes of products and subscriptions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import open_store

UTC = timezone.utc
TOKENS = {"name": "Tokens", "unit": "tokens", "precision": 0, "rollover_enabled": True, "rollover_percentage": 50,
          "max_rollover_count": 1}


@pytest.fixture
def api(fresh_store_url, clock):
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    try:
        yield Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)
    finally:
        store.close()


def balance(api: Api, ent: str, customer: str) -> str:
    return api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/{customer}")["balance"]


def ledger(api: Api, ent: str, customer: str) -> list[tuple]:
    data = api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/{customer}/ledger-entries",
                  params={"limit": 100})["data"]
    return [(e["transaction_type"], e["amount"], e["balance_after"], e["created_at"]) for e in reversed(data)]


def refused(api: Api, body: dict) -> tuple[int, str]:
    r = api.c.post("/v1/products", json=body)
    return r.status_code, r.json().get("field") or r.json().get("error", {}).get("field")


def test_what_a_product_may_attach(api):
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json=TOKENS)["id"]
    peak = api.meter("Peak", "peak", "max", "n")
    calls = api.meter("Calls", "call")
    base = {"name": "P", "currency": "USD"}
    cases = [
        ({**base, "credit_entitlements": [{"credit_entitlement_id": "cde_nope", "credits_amount": "10"}]},
         "credit_entitlements[0].credit_entitlement_id"),
        ({**base, "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "1.5"}]},
         "credit_entitlements[0].credits_amount"),  # precision 0
        ({**base, "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "10",
                                           "rollover_enabled": False}]}, "credit_entitlements[0].rollover_enabled"),
        ({**base, "credit_entitlements": [{"credit_entitlement_id": ent}]}, "credit_entitlements[0].credits_amount"),
        ({**base, "meters": [{"meter_id": peak, "credit_entitlement_id": ent, "meter_units_per_credit": "1"}]},
         "meters[0].meter_id"),  # a max meter cannot deduct as events arrive
        ({**base, "meters": [{"meter_id": calls, "credit_entitlement_id": ent}]}, "meters[0].meter_units_per_credit"),
        ({**base, "meters": [{"meter_id": calls, "credit_entitlement_id": ent, "meter_units_per_credit": "10",
                              "price_per_unit": "0.01"}]}, "meters[0].price_per_unit"),
    ]
    for body, field in cases:
        status, got = refused(api, body)
        assert (status, got) == (422, field), body
    assert api.ok("GET", "/v1/products")["data"] == []  # nothing half-written


def test_subscriptions_issue_the_products_credits_each_cycle(api, clock):
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json=TOKENS)["id"]
    small = api.ok("POST", "/v1/products", 201, json={
        "name": "Small", "currency": "USD", "fixed_fee": "10.00",
        "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "1000", "trial_credits": "300",
                                 "trial_credits_expire_after_trial": True}]})
    assert small["credit_entitlements"] == [{"credit_entitlement_id": ent, "credits_amount": "1000",
                                             "trial_credits": "300", "trial_credits_expire_after_trial": True}]
    big = api.ok("POST", "/v1/products", 201, json={"name": "Big", "currency": "USD", "fixed_fee": "50.00",
                                                    "credit_entitlements": [{"credit_entitlement_id": ent,
                                                                             "credits_amount": "5000"}]})["id"]
    api.customer("cus_p")
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    sub = api.subscribe("cus_p", small["id"], start="2025-01-01T00:00:00Z", quantity=2)
    assert balance(api, ent, "cus_p") == "2600"  # 2 × 1,000 for January + 2 × 300 trial credits
    usage = api.ok("GET", f"/v1/subscriptions/{sub}/credits")["data"]
    assert [(u["credit_entitlement_name"], u["balance"], u["limit_reached"]) for u in usage] == [("Tokens", "2600", False)]

    clock.now = datetime(2025, 1, 20, tzinfo=UTC)
    api.ok("POST", f"/v1/credit-entitlements/{ent}/balances/cus_p/ledger-entries", 201,
           json={"entry_type": "debit", "amount": "700"})  # both end Feb 1: FIFO takes the older cycle grant
    clock.now = datetime(2025, 2, 3, tzinfo=UTC)  # January ends: 50 % of the 1,300 left rolls over, trial expires
    assert balance(api, ent, "cus_p") == "2650"  # 650 rolled + 2,000 for February
    api.ok("POST", f"/v1/subscriptions/{sub}/change-plan", json={"product_id": big})  # from March: 5,000 × 2
    assert balance(api, ent, "cus_p") == "2650"
    clock.now = datetime(2025, 3, 2, tzinfo=UTC)
    assert balance(api, ent, "cus_p") == "11000"  # 650 rolled once: forfeited; 1,000 of February's 2,000 rolls
    api.ok("POST", f"/v1/subscriptions/{sub}/cancel", json={"at_period_end": True})  # ends April 1
    clock.now = datetime(2025, 4, 2, tzinfo=UTC)
    assert balance(api, ent, "cus_p") == "5000"  # March's rollover of 5,000; no April credits
    assert ledger(api, ent, "cus_p") == [
        ("credit_added", "2000", "2000", "2025-01-01T00:00:00Z"),
        ("credit_added", "600", "2600", "2025-01-01T00:00:00Z"),
        ("credit_deducted", "700", "1900", "2025-01-20T00:00:00Z"),
        ("credit_rolled_over", "650", "1900", "2025-02-01T00:00:00Z"),
        ("credit_expired", "650", "1250", "2025-02-01T00:00:00Z"),
        ("credit_expired", "600", "650", "2025-02-01T00:00:00Z"),
        ("credit_added", "2000", "2650", "2025-02-01T00:00:00Z"),
        ("rollover_forfeited", "650", "2000", "2025-03-01T00:00:00Z"),
        ("credit_rolled_over", "1000", "2000", "2025-03-01T00:00:00Z"),
        ("credit_expired", "1000", "1000", "2025-03-01T00:00:00Z"),
        ("credit_added", "10000", "11000", "2025-03-01T00:00:00Z"),
        ("rollover_forfeited", "1000", "10000", "2025-04-01T00:00:00Z"),
        ("credit_rolled_over", "5000", "10000", "2025-04-01T00:00:00Z"),
        ("credit_expired", "5000", "5000", "2025-04-01T00:00:00Z"),
    ]


def test_one_subscription_feeds_a_balance(api):
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json=TOKENS)["id"]
    prod = api.ok("POST", "/v1/products", 201, json={"name": "S", "currency": "USD", "credit_entitlements": [
        {"credit_entitlement_id": ent, "credits_amount": "10"}]})["id"]
    api.customer("cus_two")
    api.subscribe("cus_two", prod)
    r = api.c.post("/v1/subscriptions", json={"customer_id": "cus_two", "product_id": prod})
    assert (r.status_code, r.json()["field"]) == (409, "credit_entitlements")
    assert len(api.ok("GET", "/v1/subscriptions", params={"customer_id": "cus_two"})["data"]) == 1


def test_dodo_shapes_of_credit_products_and_subscriptions(api):
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json=TOKENS)["id"]
    calls = api.meter("Calls", "call")
    prod = api.ok("POST", "/products", json={
        "name": "Dodo credits", "tax_category": "saas",
        "price": {"type": "usage_based_price", "currency": "USD", "fixed_price": 1000, "meters": [
            {"meter_id": calls, "credit_entitlement_id": ent, "meter_units_per_credit": "10"}]},
        "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "500"}]})
    [mapping] = prod["credit_entitlements"]
    assert (mapping["credit_entitlement_id"], mapping["credits_amount"], mapping["credit_entitlement_unit"]) == (
        ent, "500", "tokens")
    assert prod["price"]["meters"][0]["meter_units_per_credit"] == "10"
    sub = api.ok("POST", "/subscriptions", json={"customer": {"email": "d@example.com", "name": "D"},
                                                  "product_id": prod["product_id"], "billing": {"country": "US"}})
    full = api.ok("GET", f"/subscriptions/{sub['subscription_id']}")
    assert [(c["credit_entitlement_id"], c["remaining_balance"]) for c in full["credit_entitlement_cart"]] == [(ent, "500")]
    assert [(m["meter_id"], m["meter_units_per_credit"]) for m in full["meter_credit_entitlement_cart"]] == [(calls, "10")]
    usage = api.ok("GET", f"/subscriptions/{sub['subscription_id']}/credit-usage")
    assert [(i["credit_entitlement_id"], i["balance"]) for i in usage["items"]] == [(ent, "500")]
