"""The native credits and wallets API (``/v1``) end to end through the app on both backends: the whole flow,
every 4xx with its field and nothing half-written, idempotent replays, portal tokens, the OpenAPI document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

ENT = {"name": "API credits", "unit": "calls", "precision": 2, "currency": "USD", "price_per_unit": "0.01",
       "overage_enabled": True, "overage_limit": "50", "overage_behavior": "invoice_at_billing"}


def ok(http, method: str, path: str, status: int = 200, **kw) -> dict:
    r = http.request(method, path, **kw)
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def err(http, method: str, path: str, status: int, field: str | None, **kw) -> dict:
    body = ok(http, method, path, status, **kw)
    assert body["field"] == field, body
    return body


@pytest.fixture
def ent(http) -> str:
    return ok(http, "POST", "/v1/credit-entitlements", 201, json=ENT)["id"]


def test_native_flow(http, ent):
    base = f"/v1/credit-entitlements/{ent}/balances/cus_1"
    got = ok(http, "GET", f"/v1/credit-entitlements/{ent}")
    assert (got["price_per_unit"], got["overage_limit"], got["precision"]) == ("0.01", "50.00", 2)
    assert ok(http, "GET", base) == {**ok(http, "GET", base), "id": None, "balance": "0.00", "overage": "0.00"}

    added = ok(http, "POST", base + "/ledger-entries", 201,
               json={"entry_type": "credit", "amount": "100", "idempotency_key": "g1", "metadata": {"order": 7}})
    assert (added["transaction_type"], added["amount"], added["balance_after"], added["replayed"]) == (
        "credit_added", "100.00", "100.00", False)
    replay = ok(http, "POST", base + "/ledger-entries", 200,
                json={"entry_type": "credit", "amount": "100.00", "idempotency_key": "g1", "metadata": {"order": 7}})
    assert (replay["id"], replay["replayed"]) == (added["id"], True)
    err(http, "POST", base + "/ledger-entries", 409, "idempotency_key",
        json={"entry_type": "debit", "amount": "1", "idempotency_key": "g1"})

    one_time = ok(http, "POST", base + "/grants", 201, json={"amount": "20.5", "source_type": "one_time",
                                                           "source_id": "pay_1", "expires_at": "2999-01-10T00:00:00Z"})
    debit = ok(http, "POST", base + "/ledger-entries", 201, json={"entry_type": "debit", "amount": "150"})
    assert [(a["grant_id"], a["amount"]) for a in debit["allocations"]] == [
        (one_time["grant_id"], "20.50"), (added["grant_id"], "100.00")]
    assert (debit["balance_after"], debit["overage_after"]) == ("0.00", "29.50")
    err(http, "POST", base + "/ledger-entries", 400, "amount", json={"entry_type": "debit", "amount": "20.51"})
    adj = ok(http, "POST", base + "/adjustments", 201, json={"amount": "40", "reason": "support"})
    assert (adj["transaction_type"], adj["is_credit"], adj["balance_after"]) == ("manual_adjustment", True, "40.00")
    err(http, "POST", base + "/adjustments", 400, "amount", json={"amount": "-40.01"})  # never into overage

    balance = ok(http, "GET", base)
    assert (balance["balance"], balance["overage"]) == ("40.00", "29.50")
    listed = ok(http, "GET", f"/v1/credit-entitlements/{ent}/balances")["data"]
    assert [(b["customer_id"], b["balance"]) for b in listed] == [("cus_1", "40.00")]
    ledger = ok(http, "GET", base + "/ledger-entries", params={"order": "asc"})["data"]
    assert [e["transaction_type"] for e in ledger] == ["credit_added", "credit_added", "credit_deducted",
                                                       "manual_adjustment"]
    assert ledger[0]["metadata"] == {"order": 7} and ledger[0]["idempotency_key"] == "g1"
    only = ok(http, "GET", base + "/ledger-entries", params={"transaction_type": "credit_deducted"})["data"]
    assert [e["id"] for e in only] == [debit["id"]]
    assert ok(http, "GET", base + "/ledger", params={"order": "asc"})["data"] == ledger
    dodo = ok(http, "GET", f"/credit-entitlements/{ent}/balances/cus_1/ledger-entries", params={"page_size": 2})
    assert [e["id"] for e in dodo["items"]] == [ledger[3]["id"], ledger[2]["id"]]
    grants = ok(http, "GET", base + "/grants")["data"]
    assert [(g["source_type"], g["remaining_amount"], g["status"]) for g in grants] == [
        ("api", "0.00", "depleted"), ("one_time", "0.00", "depleted"), ("api", "40.00", "active")]
    mine = ok(http, "GET", "/v1/customers/cus_1/credits")["data"]
    assert [(c["name"], c["unit"], c["balance"], c["overage"]) for c in mine] == [
        ("API credits", "calls", "40.00", "29.50")]


def test_cycles_and_overage_lines_over_http(http, ent, store):
    base = f"/v1/credit-entitlements/{ent}/balances/cus_c"
    cycle = ok(http, "PUT", base + "/cycle", json={"anchor": "2020-01-01T00:00:00Z", "interval": "month",
                                                   "credits_per_cycle": "10", "source_id": "sub_9"})
    assert cycle["cycle"] == {"anchor": "2020-01-01T00:00:00Z", "interval": "month", "interval_count": 1,
                              "credits_per_cycle": "10.00", "source_id": "sub_9", "starts_at": None, "ends_at": None}
    assert cycle["balance"] == "10.00" and cycle["next_event_at"].endswith("-01T00:00:00Z")
    cleared = ok(http, "DELETE", base + "/cycle")
    # no more cycles, but this cycle's credits still end with it
    assert (cleared["cycle"], cleared["next_event_at"], cleared["balance"]) == (None, cycle["next_event_at"], "10.00")
    err(http, "PUT", base + "/cycle", 422, "interval_count", json={"anchor": "2020-01-01T00:00:00Z", "interval_count": 0})
    err(http, "PUT", base + "/cycle", 422, "anchor", json={"anchor": "soon"})
    lines = ok(http, "GET", "/v1/customers/cus_c/credits/overage", params={"from": "2020-01-01T00:00:00Z",
                                                                           "to": "2030-01-01T00:00:00Z"})
    assert lines == {"data": []}
    err(http, "GET", "/v1/customers/cus_c/credits/overage", 422, "from", params={"from": "x", "to": "y"})
    assert ok(http, "POST", "/v1/credits/settle") == {"settled": 0, "deducted_events": 0}


@pytest.mark.parametrize("body, field", [
    ({**ENT, "precision": 11}, "precision"),
    ({**ENT, "surprise": 1}, "surprise"),
    ({**ENT, "currency": None}, "currency"),
    ({**ENT, "currency": "XXX"}, "currency"),
    ({**ENT, "price_per_unit": None}, "price_per_unit"),
    ({**ENT, "rollover_timeframe_count": 2}, "rollover_timeframe_interval"),
    ({**ENT, "overage_limit": "1.001"}, "overage_limit"),
    ({**ENT, "overage_behavior": "pay_later"}, "overage_behavior"),
    ({**ENT, "name": "a\x00b"}, "name"),
    ({**ENT, "rollover_percentage": 101}, "rollover_percentage"),
    ({k: v for k, v in ENT.items() if k != "unit"}, "unit"),
])
def test_bad_entitlements_are_refused_and_nothing_is_stored(http, body, field):
    err(http, "POST", "/v1/credit-entitlements", 422, field, json=body)
    assert ok(http, "GET", "/v1/credit-entitlements")["data"] == []


@pytest.mark.parametrize("body, field", [
    ({"entry_type": "credit", "amount": "1.001"}, "amount"),
    ({"entry_type": "credit", "amount": "-5"}, "amount"),
    ({"entry_type": "credit", "amount": "0"}, "amount"),
    ({"entry_type": "credit", "amount": "1e10"}, "amount"),
    ({"entry_type": "credit", "amount": "NaN"}, "amount"),
    ({"entry_type": "credit", "amount": "ten"}, "amount"),
    ({"entry_type": "grant", "amount": "1"}, "entry_type"),
    ({"entry_type": "credit", "amount": "1", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
    ({"entry_type": "credit", "amount": "1", "expires_at": "tomorrow"}, "expires_at"),
    ({"entry_type": "debit", "amount": "1", "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
    ({"entry_type": "credit", "amount": "1", "metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
    ({"entry_type": "credit", "amount": "1", "metadata": {"k": "x" * 501}}, "metadata.k"),
    ({"entry_type": "credit", "amount": "1", "reason": "a\x00"}, "reason"),
    ({"entry_type": "credit", "amount": "1", "idempotency_key": "sys:x"}, "idempotency_key"),
    ({"entry_type": "credit", "amount": "1", "idempotency_key": "k" * 256}, "idempotency_key"),
])
def test_bad_ledger_entries_are_refused_and_nothing_is_written(http, ent, body, field):
    base = f"/v1/credit-entitlements/{ent}/balances/cus_1"
    err(http, "POST", base + "/ledger-entries", 422, field, json=body)
    assert ok(http, "GET", base + "/ledger-entries")["data"] == []
    assert ok(http, "GET", base)["balance"] == "0.00"


def test_not_found_conflicts_and_updates(http, ent):
    err(http, "GET", "/v1/credit-entitlements/cde_missing", 404, "credit_entitlement_id")
    err(http, "POST", "/v1/credit-entitlements/cde_missing/balances/c/ledger-entries", 404, "credit_entitlement_id",
        json={"entry_type": "credit", "amount": "1"})
    err(http, "GET", f"/v1/credit-entitlements/{ent}/balances/c/grants", 422, "status", params={"status": "old"})
    err(http, "GET", f"/v1/credit-entitlements/{ent}/balances/c/ledger-entries", 422, "transaction_type",
        params={"transaction_type": "gift"})
    err(http, "GET", "/v1/credit-entitlements", 422, "query.limit", params={"limit": 1001})
    patched = ok(http, "PATCH", f"/v1/credit-entitlements/{ent}", json={"description": "d", "overage_limit": None})
    assert (patched["description"], patched["overage_limit"]) == ("d", None)
    err(http, "PATCH", f"/v1/credit-entitlements/{ent}", 422, "precision", json={"precision": 3})
    err(http, "PATCH", f"/v1/credit-entitlements/{ent}", 422, "price_per_unit", json={"price_per_unit": None})
    assert ok(http, "GET", f"/v1/credit-entitlements/{ent}")["price_per_unit"] == "0.01"  # unchanged
    assert ok(http, "DELETE", f"/v1/credit-entitlements/{ent}")["deleted_at"] is not None
    err(http, "DELETE", f"/v1/credit-entitlements/{ent}", 409, "id")
    err(http, "POST", f"/v1/credit-entitlements/{ent}/balances/c/ledger-entries", 404, "credit_entitlement_id",
        json={"entry_type": "credit", "amount": "1"})
    assert [e["id"] for e in ok(http, "GET", "/v1/credit-entitlements", params={"deleted": True})["data"]] == [ent]
    assert ok(http, "POST", f"/v1/credit-entitlements/{ent}/undelete")["deleted_at"] is None


def test_wallets_native(http):
    w = ok(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 201,
           json={"amount": 2500, "currency": "usd", "entry_type": "credit", "idempotency_key": "t1"})
    assert (w["balance"], w["currency"]) == (2500, "USD")
    assert ok(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 200,
              json={"amount": 2500, "currency": "USD", "entry_type": "credit", "idempotency_key": "t1"})["balance"] == 2500
    err(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 409, "idempotency_key",
        json={"amount": 1, "currency": "USD", "entry_type": "debit", "idempotency_key": "t1"})
    err(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 400, "amount",
        json={"amount": 2501, "currency": "USD", "entry_type": "debit"})
    err(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 422, "amount",
        json={"amount": 1.5, "currency": "USD", "entry_type": "debit"})
    err(http, "POST", "/v1/customers/cus_w/wallets/ledger-entries", 422, "currency",
        json={"amount": 1, "currency": "ZZZ", "entry_type": "credit"})
    assert ok(http, "GET", "/v1/customers/cus_w/wallets")["total_balance_usd"] == 2500
    entries = ok(http, "GET", "/v1/customers/cus_w/wallets/ledger-entries")["data"]
    assert [(e["amount"], e["before_balance"], e["after_balance"]) for e in entries] == [(2500, 0, 2500)]


def test_portal_tokens_read_only_their_own_credits(http, ent, store):
    base = f"/v1/credit-entitlements/{ent}/balances"
    ok(http, "POST", base + "/cus_a/ledger-entries", 201, json={"entry_type": "credit", "amount": "5"})
    token = ok(http, "POST", "/v1/portal-tokens", 201, json={"customer_id": "cus_a"})["token"]
    portal = TestClient(http.app, headers={"Authorization": f"Bearer {token}"})
    assert ok(portal, "GET", base + "/cus_a")["balance"] == "5.00"
    assert len(ok(portal, "GET", base + "/cus_a/ledger-entries")["data"]) == 1
    assert len(ok(portal, "GET", "/v1/customers/cus_a/credits")["data"]) == 1
    assert ok(portal, "GET", "/v1/customers/cus_a/wallets")["items"] == []
    ok(portal, "GET", base + "/cus_b", 403)
    ok(portal, "GET", "/v1/customers/cus_b/wallets", 403)
    ok(portal, "POST", base + "/cus_a/ledger-entries", 403, json={"entry_type": "credit", "amount": "5"})
    ok(portal, "GET", f"/credit-entitlements/{ent}/balances/cus_a", 403)  # Dodo routes: API keys only


def test_openapi_documents_requests_and_responses(http):
    spec = ok(http, "GET", "/openapi.json")
    post = spec["paths"]["/v1/credit-entitlements/{entitlement_id}/balances/{customer_id}/ledger-entries"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/LedgerEntryCreate")
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/LedgerEntryOut")
    for path in ("/credit-entitlements", "/credit-entitlements/{id}/undelete",
                 "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}/ledger",
                 "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}/grants",
                 "/customers/{customer_id}/wallets/ledger-entries", "/v1/customers/{customer_id}/wallets"):
        assert path in spec["paths"], path
    assert {"DodoCreditLedgerEntry", "DodoCreditEntitlement", "WalletTransactionOut"} <= set(spec["components"]["schemas"])


def test_read_only_keys_cannot_write(store):
    token, _ = store.create_key("ro", "test_mode", read_only=True)
    ro = TestClient(create_app(store, Settings(database_url=store.url)), headers={"Authorization": f"Bearer {token}"})
    ok(ro, "POST", "/v1/credit-entitlements", 403, json=ENT)
    ok(ro, "POST", "/customers/c/wallets/ledger-entries", 403, json={"amount": 1, "currency": "USD", "entry_type": "credit"})
