"""Credits across three billing cycles, with the clock moved by hand, under each overage behaviour (both backends).

A product issues 1,000 "AI credits" a month (1 credit = $0.01; the environment's covering credit, so allow() pays
from it) and its "Compute units" meter is paid with them (1 unit = 1 credit). The customer consumes through
allow() (prepaid GPU seconds, seed 004's tiers) and metered events, gets a promo grant that expires, rolls 50 %
over at each cycle end (once), goes 200 credits past zero in February, changes plan to 3,000 credits a month
mid-February, and has a $5.00 wallet. Every balance, every ledger entry and every invoice line is asserted.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.credits import metered
from meterbase.storage import open_store

from .policy_doc import policy_text

UTC = timezone.utc


def at(month: int, day: int) -> datetime:
    return datetime(2025, month, day, tzinfo=UTC)


def d(month: int, day: int) -> str:
    return f"2025-{month:02d}-{day:02d}T00:00:00Z"


@pytest.fixture
def world(fresh_store_url, clock):
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    try:
        yield Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)
    finally:
        store.close()


COMMON = [  # (type, amount, balance after, overage after, when)
    ("credit_added", "1000", "1000", "0", d(1, 1)),  # Starter's January credits
    ("credit_added", "300", "1300", "0", d(1, 2)),  # a promo, expiring Jan 15
    ("credit_deducted", "100", "1200", "0", d(1, 5)),  # allow(): 2,500 GPU seconds = $1.00, from the promo (FIFO)
    ("credit_expired", "200", "1000", "0", d(1, 15)),
    ("credit_deducted", "100", "900", "0", d(1, 20)),  # metered events, 100 and 200 units
    ("credit_deducted", "200", "700", "0", d(1, 20)),
    ("credit_rolled_over", "350", "700", "0", d(2, 1)),  # 50 % of the 700 left
    ("credit_expired", "350", "350", "0", d(2, 1)),
    ("credit_added", "1000", "1350", "0", d(2, 1)),
    ("credit_deducted", "1550", "0", "200", d(2, 10)),  # 200 past zero (overage_limit 500)
]
AFTER = {  # what each behaviour does with February's 200 at the March 1 cycle end, then March and April 1
    "forgive_at_reset": ([("overage_reset", "200", "0", "0", d(3, 1)), ("credit_added", "3000", "3000", "0", d(3, 1))],
                         "0", "4250"),
    "invoice_at_billing": ([("overage_charged", "200", "0", "0", d(3, 1)),
                            ("credit_added", "3000", "3000", "0", d(3, 1))], "0", "4250"),
    "carry_deficit": ([("credit_added", "3000", "3000", "200", d(3, 1))], "200", "4250"),
    "carry_deficit_auto_repay": ([("credit_added", "3000", "2800", "0", d(3, 1))], "0", "4150"),
}


@pytest.mark.parametrize("behavior", list(AFTER))
def test_three_cycles(world, clock, behavior):
    api = world
    clock.now = at(1, 1)
    api.ok("PUT", "/v1/policy", content=policy_text(), headers={"Content-Type": "application/yaml"})
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json={
        "name": "AI credits", "unit": "credits", "precision": 0, "currency": "USD", "price_per_unit": "0.01",
        "covers_policy_usage": True, "overage_enabled": True, "overage_limit": "500", "overage_behavior": behavior,
        "rollover_enabled": True, "rollover_percentage": 50, "max_rollover_count": 1})["id"]
    units = api.meter("Compute units", "compute", "sum", "units", unit="units")
    paid = [{"meter_id": units, "credit_entitlement_id": ent, "meter_units_per_credit": "1"}]
    starter = api.ok("POST", "/v1/products", 201, json={"name": "Starter", "currency": "USD", "fixed_fee": "10.00",
                                                        "meters": paid, "credit_entitlements": [
                                                            {"credit_entitlement_id": ent, "credits_amount": "1000"}]})
    growth = api.ok("POST", "/v1/products", 201, json={"name": "Growth", "currency": "USD", "fixed_fee": "30.00",
                                                       "meters": paid, "credit_entitlements": [
                                                           {"credit_entitlement_id": ent, "credits_amount": "3000"}]})
    api.customer("cus_s")
    api.ok("POST", "/v1/customers/cus_s/wallets/ledger-entries", 201,
           json={"amount": 500, "currency": "USD", "entry_type": "credit"})
    sub = api.subscribe("cus_s", starter["id"], start=d(1, 1))
    api.ok("POST", "/v1/policy/customers", json={"customer_id": "cus_s", "plan": "prepaid", "anchor": d(1, 1)})
    base = f"/v1/credit-entitlements/{ent}/balances/cus_s"

    def balance() -> tuple[str, str]:
        b = api.ok("GET", base)
        return b["balance"], b["overage"]

    def allow(seconds: str) -> dict:
        return api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_s", "entitlement": "gpu_compute",
                                                        "amount": seconds})

    def use(month: int, day: int, *amounts: int) -> None:
        """Metered events of ``amounts`` units at that date, deducted by the consumer right away."""
        clock.now = at(month, day)
        for a in amounts:
            api.events("cus_s", "compute", at(month, day), 1, {"units": a})
        metered.consume(api.store)

    assert balance() == ("1000", "0")
    clock.now = at(1, 2)
    api.ok("POST", base + "/ledger-entries", 201, json={"entry_type": "credit", "amount": "300", "expires_at": d(1, 15)})
    clock.now = at(1, 5)
    a = allow("2500s")
    assert (a["allowed"], a["covered_price"], a["overage_price"]) == (True, "1", "0")
    assert balance() == ("1200", "0")
    clock.now = at(1, 16)
    assert balance() == ("1000", "0")  # the promo's 200 expired on Jan 15
    use(1, 20, 100, 200)
    assert balance() == ("700", "0")
    clock.now = at(2, 2)
    assert balance() == ("1350", "0")  # 350 rolled over, 350 expired, February's 1,000
    use(2, 10, 1550)
    assert balance() == ("0", "200")
    tiny = allow("1s")  # $0.0004 from the overage allowance: accrued, not yet a whole credit
    assert (tiny["allowed"], tiny["covered_price"]) == (True, "0.0004")
    clock.now = at(2, 15)
    api.ok("POST", f"/v1/subscriptions/{sub}/change-plan", json={"product_id": growth["id"]})  # 3,000 from March
    tail, carried, april = AFTER[behavior]
    clock.now = at(3, 10)
    allow("2499s")  # with the 1 s of February: 2,500 s = $1.00 = 100 credits
    use(3, 20, 400)
    march = {"forgive_at_reset": "2500", "invoice_at_billing": "2500", "carry_deficit": "2500",
             "carry_deficit_auto_repay": "2300"}[behavior]
    assert balance() == (march, carried)
    clock.now = at(4, 2)
    assert balance() == (april, carried)

    rest = [("credit_deducted", "100", str(int(march) + 400), carried, d(3, 10)),
            ("credit_deducted", "400", march, carried, d(3, 20)),
            ("credit_rolled_over", str(int(march) // 2), march, carried, d(4, 1)),
            ("credit_expired", str(int(march) // 2), str(int(march) // 2), carried, d(4, 1)),
            ("credit_added", "3000", april, carried, d(4, 1))]
    entries = api.ok("GET", base + "/ledger-entries", params={"limit": 100})["data"]
    got = [(e["transaction_type"], e["amount"], e["balance_after"], e["overage_after"], e["created_at"])
           for e in reversed(entries)]
    assert got == COMMON + tail + rest

    api.ok("POST", "/v1/invoices/run", json={"finalize": True})
    invoices = {i["period_start"]: api.ok("GET", f"/v1/invoices/{i['id']}")
                for i in api.ok("GET", "/v1/invoices", params={"customer_id": "cus_s"})["data"]}
    assert sorted(invoices) == [d(1, 1), d(2, 1), d(3, 1)]

    def lines(inv: dict) -> list[tuple]:
        return [(x["kind"], x["description"], x["quantity"], x["amount"]) for x in inv["lines"]]

    jan, feb, mar = invoices[d(1, 1)], invoices[d(2, 1)], invoices[d(3, 1)]
    assert lines(jan) == [("fixed", "Starter", "1", "10.00"), ("usage", "Compute units", "300", "0.00"),
                          ("credits_applied", "AI credits: credits applied", "400", "0.00"),
                          ("wallet_payment", "Paid from the customer's wallet", "1", "-5.00")]
    assert (jan["status"], jan["subtotal"], jan["total"]) == ("finalized", "10.00", "5.00")  # the wallet paid $5.00
    charged = {"invoice_at_billing": [("credit_overage", "AI credits: overage charged", "200", "2.00")],
               "carry_deficit": [("credit_deficit", "AI credits: deficit carried to the next cycle", "200", "0.00")],
               "carry_deficit_auto_repay": [("credit_deficit", "AI credits: deficit carried to the next cycle",
                                             "200", "0.00")]}.get(behavior, [])
    assert lines(feb) == [("fixed", "Starter (prorated)", "1", "5.00"), ("usage", "Compute units", "1550", "0.00"),
                          ("fixed", "Growth (prorated)", "1", "15.00"), ("usage", "Compute units", "0", "0.00"),
                          ("credits_applied", "AI credits: credits applied", "1350", "0.00")] + charged
    assert feb["total"] == ("22.00" if behavior == "invoice_at_billing" else "20.00")  # the wallet is empty now
    assert [x["past_zero"] for x in feb["lines"] if x["kind"] == "credits_applied"] == ["200"]
    carried_lines = [("credit_deficit", "AI credits: deficit carried to the next cycle", "200", "0.00")] \
        if behavior == "carry_deficit" else []
    assert lines(mar) == [("fixed", "Growth", "1", "30.00"), ("usage", "Compute units", "400", "0.00"),
                          ("credits_applied", "AI credits: credits applied", "500", "0.00")] + carried_lines
    assert mar["total"] == "30.00"
    wallet = api.ok("GET", "/v1/customers/cus_s/wallets")
    assert [(w["currency"], w["balance"]) for w in wallet["items"]] == [("USD", 0)]
    api.ok("POST", "/v1/invoices/run", json={"finalize": True})  # a rerun pays nothing more
    assert api.ok("GET", f"/v1/invoices/{jan['id']}")["total"] == "5.00"
