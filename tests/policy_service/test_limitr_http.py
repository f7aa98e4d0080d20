"""Limitr's documented examples as table tests over HTTP, on SQLite and PostgreSQL.

The policy below is written the way Limitr's own tests write theirs (src/tests/pricing.stof, billing_events.stof,
periods.stof) and loads unchanged (plus plan ``caps``, meterbase's way to declare Limitr's spend caps). Every
number is Limitr's: curve prices from the customer's tier position, price_diff sequences with refunds, caps that
follow the position, 7-day and implicit 30-day resets, MB/GB/MiB conversions, overage after a covering balance.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.api.routes import policy_schemas as S
from meterbase.api.routes.policy import policy_service
from meterbase.config import Settings
from meterbase.policy.covering import Cover
from meterbase.storage import open_store

POLICY = """
policy:
  credits:
    flat: { price: { amount: 1 } }
    tiered:
      pricing_model: tiered
      tiers: [{ up_to: 10, price: { amount: 1 } }, { price: { amount: 0.5 } }]
    unpriced: {}
    tiered_tok:
      pricing_model: tiered
      tiers: [{ up_to: 100, price: { amount: 0.01 } }, { up_to: 1000, price: { amount: 0.005 } }, { price: { amount: 0.001 } }]
    volume_tok:
      pricing_model: volume
      tiers: [{ up_to: 100, price: { amount: 0.01 } }, { up_to: 1000, price: { amount: 0.005 } }, { price: { amount: 0.001 } }]
    step_tok:
      pricing_model: stairstep
      tiers: [{ up_to: 100, price: { amount: 5 } }, { up_to: 1000, price: { amount: 20 } }, { price: { amount: 50 } }]
    tok: { price: { amount: 0.01 }, resets: true, label: Token, unit: token }
    storage: { stof_units: MB, price: { amount: 0.001 } }
  plans:
    metered:
      label: Metered
      default: true
      caps:
        spend: { value: 100, observe_only: true, scope: [tiered_tok, tiered_included] }
        budget: { value: 1.5, scope: [capped] }
      entitlements:
        flat_soft: { limit: { credit: flat, mode: soft, value: 10 } }
        flat_hard: { limit: { credit: flat, mode: hard, value: 10 } }
        tiered_soft: { limit: { credit: tiered, mode: soft, value: 0 } }
        unpriced: { limit: { credit: unpriced, mode: soft, value: 10 } }
        tiered_tok: { limit: { credit: tiered_tok, mode: soft, value: 0 } }
        tiered_included: { limit: { credit: tiered_tok, mode: soft, value: 50 } }
        capped: { limit: { credit: tiered_tok, mode: soft, value: 0 } }
        volume: { limit: { credit: volume_tok, mode: soft, value: 0 } }
        step: { limit: { credit: step_tok, mode: soft, value: 0 } }
        step_included: { limit: { credit: step_tok, mode: soft, value: 50 } }
        flat_zero: { limit: { credit: tok, mode: soft, value: 0 } }
        implicit: { limit: { credit: tok, mode: hard, value: 100, resets: true } }
        weekly: { limit: { credit: tok, mode: hard, value: 100, resets: true, reset_inc: 7days } }
        lifetime: { limit: { credit: tok, mode: hard, value: 100 } }
        disk: { limit: { credit: storage, mode: hard, value: 2GB } }
        shadow: { limit: { credit: flat, mode: observe, value: 10 } }
        refunds: { limit: { credit: flat, mode: soft, value: 10, minimum: 0 } }
        access: { description: a feature flag }
"""


@pytest.fixture
def api(fresh_store_url, clock):
    store = open_store(fresh_store_url(), clock)
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url))
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    r = client.put("/v1/policy", content=POLICY, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    client.customers = iter(range(10_000))
    yield client
    store.close()


def _customer(api) -> str:
    cid = f"cus_{next(api.customers)}"
    assert api.post("/v1/policy/customers", json={"customer_id": cid}).status_code == 200
    return cid


def _call(api, verb: str, cid: str, entitlement: str, amount) -> dict:
    r = api.post(f"/v1/policy/{verb}", json={"customer_id": cid, "entitlement": entitlement, "amount": amount})
    assert r.status_code == 200, r.text
    S.DecisionOut.model_validate(r.json())  # the documented shape
    return r.json()


CURVES = [
    # (entitlement, position reached first, quantity, Limitr's price): total_price(n) is price_of(n) from 0
    ("tiered_tok", 0, 100, "1.0"), ("tiered_tok", 0, 1000, "5.5"), ("tiered_tok", 0, 2000, "6.5"),
    ("tiered_tok", 100, 100, "0.5"), ("tiered_tok", 75, 50, "0.375"), ("tiered_tok", 100, -5, "-0.05"),
    # position -5: 5 included units + 5 billable ones. price_diff counts the billable units only ($0.05); the
    # curve's price_of(10, -5) = $0.10 (included units at the first rate) is what a spend cap is charged, below
    ("tiered_included", 45, 10, "0.05"),
    ("volume", 0, 100, "1.0"), ("volume", 0, 101, "0.505"), ("volume", 0, 1001, "1.001"),
    ("volume", 100, 1, "-0.495"), ("volume", 200, 10, "0.05"),
    ("step", 0, 0, "0"), ("step", 0, 1, "5"), ("step", 0, 100, "5"), ("step", 0, 101, "20"),
    ("step", 10, 50, "0"), ("step", 100, 1, "15"), ("step_included", 45, 10, "5"),
    ("flat_zero", 5000, 100, "1.0"),
]


@pytest.mark.parametrize(("entitlement", "offset", "quantity", "price"), CURVES)
def test_curves_price_from_the_customers_position(api, entitlement, offset, quantity, price):
    cid = _customer(api)
    if offset:
        _call(api, "allow", cid, entitlement, offset)
    preview = _call(api, "check", cid, entitlement, quantity)
    assert D(preview["price_diff"]) == D(price) and preview["consumed"] == "0"
    done = _call(api, "allow", cid, entitlement, quantity)
    assert D(done["price_diff"]) == D(price)  # the call agrees
    if entitlement == "tiered_included":
        assert D(done["caps"][0]["charge"]) == D("0.1")


SEQUENCES = {
    # entitlement: [(amount, allowed, price_diff, overage, overage_price)]: billing_events.stof and pricing.stof
    "flat_soft": [(8, True, "0", "0", "0"), (5, True, "3", "3", "3"), (2, True, "2", "2", "2"), (-4, True, "-4", "-4", "-4")],
    "tiered_soft": [(8, True, "8", "8", "8"), (4, True, "3", "4", "3"), (-6, True, "-5", "-6", "-5")],
    "volume": [(100, True, "1", "100", "1"), (1, True, "-0.495", "1", "-0.495"), (100, True, "0.5", "100", "0.5")],
    "step": [(10, True, "5", "10", "5"), (80, True, "0", "80", "0"), (20, True, "15", "20", "15")],
    "unpriced": [(20, True, None, "10", None)],
    "flat_hard": [(12, False, "2", "0", "0"), (10, True, "0", "0", "0")],
    "shadow": [(25, True, "15", "0", "0"), (-5, True, "-5", "0", "0")],
    "refunds": [(15, True, "5", "5", "5"), (-100, True, "-5", "-5", "-5")],
}


@pytest.mark.parametrize("entitlement", list(SEQUENCES))
def test_price_diff_sequences_with_refunds(api, entitlement):
    cid, seen = _customer(api), []
    policy_service(api.app, "test_mode").add_handler("t", lambda key, body: seen.append((key, body)))
    for amount, allowed, price, overage, overage_price in SEQUENCES[entitlement]:
        d = _call(api, "allow", cid, entitlement, amount)
        assert (d["allowed"], d["price_diff"], d["overage"], d["overage_price"]) == (allowed, price, overage, overage_price), amount
    status = api.get(f"/v1/policy/customers/{cid}/entitlements/{entitlement}").json()
    S.EntitlementStatusOut.model_validate(status)
    allowed_rows = [row for row in SEQUENCES[entitlement] if row[1]]
    if allowed_rows[0][2] is not None:  # the period's totals are the sums of what the calls answered
        assert D(status["price"]) == sum(D(r[2]) for r in allowed_rows)
        assert D(status["overage_price"]) == sum(D(r[4]) for r in allowed_rows)
    assert len(seen) == len(SEQUENCES[entitlement])  # one meter event per call, carrying the call's price


def test_refunds_stop_at_the_minimum(api):
    cid = _customer(api)
    _call(api, "allow", cid, "refunds", 15)
    d = _call(api, "allow", cid, "refunds", -100)
    assert (d["consumed"], d["used_after"], d["remaining"]) == ("-15", "0", "10")


def test_handler_events_carry_the_calls_prices(api):
    cid, seen = _customer(api), []
    policy_service(api.app, "test_mode").add_handler("t", lambda key, body: seen.append((key, __import__("json").loads(body))))
    answers = [_call(api, "allow", cid, "flat_soft", n) for n in (8, 5, -4)]
    assert [k for k, _ in seen] == ["meter-changed", "meter-overage", "meter-changed"]
    for (_, event), answer in zip(seen, answers):
        assert (event["price_diff"], event["meter"]["price_diff"]) == (answer["price_diff"],) * 2
        assert event["overhead_cost"] == answer["overhead_cost"] == "0"
    assert (seen[1][1]["overage"], seen[1][1]["overage_price"]) == ("3", "3")


def test_a_spend_cap_follows_the_tier_position_and_refuses_when_crossed(api):
    cid = _customer(api)
    spent = [_call(api, "allow", cid, "tiered_tok", n)["caps"][0]["spent_after"] for n in (100, 100, 1000)]
    assert [D(s) for s in spent] == [D("1.0"), D("1.5"), D("5.7")]
    other = _customer(api)
    assert _call(api, "allow", other, "capped", 100)["allowed"]  # $1.00 of a $1.50 budget
    assert _call(api, "check", other, "capped", 100)["allowed"]  # from position 100 it is $0.50
    _call(api, "allow", other, "capped", 100)
    refused = _call(api, "allow", other, "capped", 1)
    assert (refused["allowed"], refused["reason"], refused["cap"], refused["consumed"]) == (False, "cap_exceeded", "budget", "0")
    status = api.get(f"/v1/policy/customers/{other}/entitlements/capped").json()
    assert status["caps"][0]["spent"] == "1.5" and status["used"] == "200"


def test_seven_day_implicit_thirty_day_and_lifetime_limits(api, clock):
    cid = _customer(api)
    assert _call(api, "allow", cid, "implicit", 90)["allowed"] and not _call(api, "check", cid, "implicit", 20)["allowed"]
    _call(api, "allow", cid, "weekly", 60)
    _call(api, "allow", cid, "weekly", 30)
    _call(api, "allow", cid, "lifetime", 100)
    base = f"/v1/policy/customers/{cid}/entitlements"
    assert (api.get(f"{base}/weekly/value").json()["value"], api.get(f"{base}/weekly/remaining").json()["remaining"]) == ("90", "10")
    clock.advance(days=8)  # a new week; the 30-day period goes on
    assert api.get(f"{base}/weekly/value").json()["value"] == "0"
    assert api.get(f"{base}/weekly/remaining?percent=true").json()["remaining"] == "100"
    assert not _call(api, "check", cid, "implicit", 20)["allowed"]
    clock.advance(days=23)  # day 31: `resets: true` without reset_inc resets every 30 days
    assert _call(api, "allow", cid, "implicit", 20)["allowed"]
    assert api.get(f"{base}/implicit/value").json()["value"] == "20"
    clock.advance(days=400)  # no `resets`: a lifetime quota, whatever the credit's (informational) `resets` says
    assert not _call(api, "check", cid, "lifetime", 1)["allowed"]
    assert api.get(f"{base}/lifetime").json()["period_end"] is None


@pytest.mark.parametrize(("amount", "converted", "allowed"), [
    ("1GiB", "1073.741824", True), ("1.5GB", "1500", True), ("2000000KB", "2000", True), ("2.1GB", "2100", False),
    ("1MiB", "1.048576", True), ("1907.3486328125MiB", "2000", True), ("2gigabytes", "2000", True),
    ("16000000000bits", "2000", True), (1999, "1999", True),
])
def test_byte_amounts_convert_into_the_credits_units(api, amount, converted, allowed):
    cid = _customer(api)
    d = _call(api, "check", cid, "disk", amount)
    assert (d["amount"], d["allowed"], d["limit"]) == (converted, allowed, "2000")  # the limit '2GB' in MB


def test_observe_reads_like_limitr(api):
    cid = _customer(api)
    d = _call(api, "allow", cid, "shadow", 25)
    assert (d["allowed"], d["over_limit"], d["limit"], d["mode"]) == (True, True, "10", "observe")
    base = f"/v1/policy/customers/{cid}/entitlements/shadow"
    assert api.get(base + "/limit").json()["limit"] is None and api.get(base + "/remaining").json()["remaining"] is None
    assert api.get(base + "/value").json()["value"] == "25"


class Ledger:
    """A stand-in for the credit ledger: a money balance per customer."""

    def __init__(self, balance: str):
        self.balance, self.draws = D(balance), []

    def available(self, conn, environment, customer_id, credit, entitlement, *, now, for_update=False):
        return Cover(self.balance)

    def draw(self, conn, environment, customer_id, credit, entitlement, amount, reference, *, now):
        self.balance -= amount
        self.draws.append((customer_id, entitlement, amount, reference))


def test_overage_price_after_a_covering_balance(api):
    cid = _customer(api)
    ledger = Ledger("2")
    policy_service(api.app, "test_mode").covering = ledger
    preview = _call(api, "check", cid, "flat_soft", 15)
    d = _call(api, "allow", cid, "flat_soft", 15)  # 5 over, $2 of it covered: bill 3
    for answer in (preview, d):
        assert (answer["price_diff"], answer["overage"], answer["overage_price"], answer["covered"]) == ("5", "3", "3", "2")
    assert ledger.balance == 0 and ledger.draws == [(cid, "flat_soft", D(2), d["event_id"])]
    lines = api.get(f"/v1/policy/customers/{cid}/overage").json()
    S.OverageLinesOut.model_validate(lines)
    assert [(x["overage"], x["line"]["amount"]) for x in lines["data"]] == [("3", "3.00")]


def test_overage_lines_bill_the_recorded_prices(api):
    cid = _customer(api)
    for n in (8, 5, 2, -4):
        _call(api, "allow", cid, "flat_soft", n)
    for n in (8, 4):
        _call(api, "allow", cid, "tiered_soft", n)
    lines = api.get(f"/v1/policy/customers/{cid}/overage", params={"currency": "EUR"}).json()
    got = {x["entitlement"]: (x["overage"], x["line"]["exact_amount"], x["line"]["amount"], x["line"]["currency"]) for x in lines["data"]}
    assert got == {"flat_soft": ("1", "1", "1.00", "EUR"), "tiered_soft": ("12", "11", "11.00", "EUR")}
