"""Real-time deduction from metered events (both backends): events of a meter paid with credits deduct through
the consumer — exactly, with the event id as the entry's key; balance reads include what is stored but not yet
deducted; a crash before the consumer's commit loses nothing, a rerun doubles nothing; concurrent consumers
deduct every event once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.credits import metered
from meterbase.credits.service import CreditService
from meterbase.storage import credit_feed, open_store

UTC = timezone.utc
CREDITS = {"name": "AI credits", "unit": "credits", "precision": 0, "overage_enabled": True, "overage_limit": "5",
           "price_per_unit": "0.10", "currency": "USD", "overage_behavior": "invoice_at_billing"}


@pytest.fixture
def setup(fresh_store_url, clock):
    """A product whose calls (1 credit each) and tokens (1,000 a credit) are paid with credits; cus_m subscribed
    from 2025-01-01 with 20 credits per cycle."""
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    api = Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json=CREDITS)["id"]
    calls = api.meter("Calls", "api.call")
    tokens = api.ok("POST", "/v1/meters", 201, json={
        "name": "Tokens", "event_name": "ai.tokens", "measurement_unit": "tokens",
        "aggregation": {"type": "sum", "key": "tokens"},
        "filter": {"conjunction": "and", "clauses": [{"key": "model", "operator": "equals", "value": "big"}]}})["id"]
    product = api.ok("POST", "/v1/products", 201, json={
        "name": "AI", "currency": "USD", "fixed_fee": "10.00",
        "meters": [{"meter_id": calls, "credit_entitlement_id": ent, "meter_units_per_credit": "1"},
                   {"meter_id": tokens, "credit_entitlement_id": ent, "meter_units_per_credit": "1000"}],
        "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "20"}]})["id"]
    api.customer("cus_m")
    sub = api.subscribe("cus_m", product, start="2025-01-01T00:00:00Z")
    try:
        yield {"api": api, "store": store, "ent": ent, "sub": sub, "calls": calls, "tokens": tokens}
    finally:
        store.close()


def send(api: Api, customer: str, events: list[tuple[str, str, dict]], when: str = "2025-01-05T00:00:00Z") -> None:
    api.ok("POST", "/v1/events/ingest", json={"events": [
        {"event_id": eid, "customer_id": customer, "event_name": name, "timestamp": when, "metadata": meta}
        for eid, name, meta in events]})


def debits(svc: CreditService, ent: str) -> list[tuple]:
    return [(r.entry.amount, r.entry.reference_id, r.entry.balance_after, r.entry.overage_after)
            for r in svc.ledger(ent, "cus_m", transaction_type="credit_deducted", newest_first=False, limit=1000)]


def test_metered_events_deduct_exactly_once_and_reads_see_them_first(setup, clock):
    api, store, ent = setup["api"], setup["store"], setup["ent"]
    svc = CreditService(store, "test_mode")
    clock.now = datetime(2025, 1, 5, 1, tzinfo=UTC)
    send(api, "cus_m", [("c1", "api.call", {}), ("c2", "api.call", {}),
                        ("t1", "ai.tokens", {"tokens": 400, "model": "big"}),
                        ("t2", "ai.tokens", {"tokens": 400, "model": "big"}),
                        ("t3", "ai.tokens", {"tokens": 400, "model": "big"}),  # 1,200 tokens: 1 credit, 200 pending
                        ("t4", "ai.tokens", {"tokens": 90000, "model": "small"}),  # the meter's filter: not counted
                        ("t5", "ai.tokens", {"tokens": -5000, "model": "big"})])  # negative: nothing given back
    send(api, "cus_stranger", [("x1", "api.call", {})])  # no subscription: nothing to deduct from
    send(api, "cus_m", [("old", "api.call", {})], when="2024-12-31T00:00:00Z")  # before the subscription started
    assert api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")["balance"] == "17"  # 20 − 3, not written yet
    assert debits(svc, ent) == []

    assert metered.consume(store) == 9  # every stored event of the two meters' names was read
    assert debits(svc, ent) == [(1, "c1", 19, 0), (1, "c2", 18, 0), (1, "t3", 17, 0)]
    assert api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")["balance"] == "17"
    assert metered.consume(store) == 0 and len(debits(svc, ent)) == 3  # a rerun deducts nothing

    send(api, "cus_m", [("t6", "ai.tokens", {"tokens": 800, "model": "big"})])  # 2,000 tokens in all: a 2nd credit
    send(api, "cus_m", [(f"b{i}", "api.call", {}) for i in range(20)])  # 20 calls: 16 from the balance, 4 overage
    assert api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m") | {} == \
        api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")  # reads are stable
    b = api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")
    assert (b["balance"], b["overage"]) == ("0", "4")
    metered.consume(store)
    b = api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")
    assert (b["balance"], b["overage"]) == ("0", "4")
    send(api, "cus_m", [("late1", "api.call", {}), ("late2", "api.call", {})])  # past overage_limit 5: usage that
    # happened is recorded all the same
    metered.consume(store)
    assert api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")["overage"] == "6"
    with store.read() as conn:
        assert credit_feed.watermark(conn, "test_mode") > 0


def test_a_crash_before_the_commit_loses_nothing(setup, clock, monkeypatch):
    api, store, ent = setup["api"], setup["store"], setup["ent"]
    svc = CreditService(store, "test_mode")
    clock.now = datetime(2025, 1, 6, tzinfo=UTC)
    send(api, "cus_m", [(f"k{i}", "api.call", {}) for i in range(6)])
    real, seen = metered._deduct, []

    def crashing(conn, env, link, ev, now):
        real(conn, env, link, ev, now)
        seen.append(ev.event_id)
        if len(seen) == 4:
            raise RuntimeError("power cut")  # mid-chunk, after four deductions were written in the transaction

    monkeypatch.setattr(metered, "_deduct", crashing)
    with pytest.raises(RuntimeError, match="power cut"):
        metered.consume(store)
    assert debits(svc, ent) == []  # rolled back: deductions and watermark together
    with store.read() as conn:
        assert credit_feed.watermark(conn, "test_mode") == 0
    monkeypatch.setattr(metered, "_deduct", real)
    metered.consume(store)
    assert [d[1] for d in debits(svc, ent)] == [f"k{i}" for i in range(6)]  # each once
    assert api.ok("GET", f"/v1/credit-entitlements/{ent}/balances/cus_m")["balance"] == "14"


def test_concurrent_consumers_deduct_every_event_once(setup, clock):
    api, store, ent = setup["api"], setup["store"], setup["ent"]
    clock.now = datetime(2025, 1, 7, tzinfo=UTC)
    stop = threading.Event()
    errors: list[BaseException] = []

    def consumer():
        while not stop.is_set():
            try:
                metered.consume(store, limit=7)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=consumer) for _ in range(4)]
    for t in threads:
        t.start()
    for batch in range(10):  # 10 × 3 calls while four consumers race
        send(api, "cus_m", [(f"r{batch}_{i}", "api.call", {}) for i in range(3)])
    stop.set()
    for t in threads:
        t.join(60)
    metered.consume(store)
    assert not errors
    svc = CreditService(store, "test_mode")
    refs = [d[1] for d in debits(svc, ent)]
    assert sorted(refs) == sorted(f"r{b}_{i}" for b in range(10) for i in range(3)) and len(set(refs)) == 30
    b = svc.balance(ent, "cus_m")
    assert (b.balance, b.overage) == (0, 10)  # 20 credits, then 10 past zero (forced past the limit of 5)
