"""The official ``dodopayments`` SDK 1.123, unchanged (strict response validation), against a live server on
each backend: credit entitlements, grants and debits (replayed idempotency keys do nothing), grants and ledger
listings, balances; customer wallets."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import dodopayments
import pytest
from dodopayments import DodoPayments


@pytest.fixture(scope="module")
def sdk(live_server) -> DodoPayments:
    return DodoPayments(bearer_token=live_server.test_key, base_url=live_server.url, max_retries=0,
                        _strict_response_validation=True)


def test_entitlement_grants_debits_ledger_and_balance(sdk):
    ent = sdk.credit_entitlements.create(name="API Credits", unit="API Calls", precision=2, overage_enabled=False,
                                         rollover_enabled=False, expires_after_days=30, description="calls")
    assert (ent.id[:4], ent.precision, ent.overage_behavior, ent.expires_after_days) == ("cde_", 2, "forgive_at_reset", 30)
    assert sdk.credit_entitlements.retrieve(ent.id).name == "API Credits"
    assert ent.id in [e.id for e in sdk.credit_entitlements.list(page_number=0, page_size=100).items]
    sdk.credit_entitlements.update(ent.id, description="API calls, prepaid")
    assert sdk.credit_entitlements.retrieve(ent.id).description == "API calls, prepaid"

    bal = sdk.credit_entitlements.balances
    soon = datetime.now(timezone.utc) + timedelta(days=3)
    first = bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="1000", entry_type="credit",
                                    idempotency_key="grant-1", reason="welcome pack", metadata={"pack": "welcome"})
    assert (first.entry_type, first.is_credit, first.amount, first.balance_before, first.balance_after) == (
        "credit", True, "1000.00", "0.00", "1000.00")
    replay = bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="1000",
                                     entry_type="credit", idempotency_key="grant-1")
    assert (replay.id, replay.balance_after, replay.grant_id) == (first.id, "1000.00", first.grant_id)
    promo = bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="200.50",
                                    entry_type="credit", expires_at=soon, idempotency_key="grant-2")
    assert promo.balance_after == "1200.50"

    # FIFO: the promo grant expires first (in 3 days, the pack in 30): 200.50 from it, then 49.75 from the pack
    debit = bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="250.25",
                                    entry_type="debit", idempotency_key="debit-1", reason="batch job 7")
    assert (debit.entry_type, debit.is_credit, debit.balance_before, debit.balance_after, debit.overage_after) == (
        "debit", False, "1200.50", "950.25", "0.00")
    assert debit.grant_id == promo.grant_id  # the first grant it took from
    again = bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="250.25",
                                    entry_type="debit", idempotency_key="debit-1")
    assert (again.id, again.balance_after) == (debit.id, "950.25")
    assert bal.retrieve("cus_sdk_credits", credit_entitlement_id=ent.id).balance == "950.25"

    with pytest.raises(dodopayments.BadRequestError) as refused:  # overage disabled: refused, nothing consumed
        bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="950.26", entry_type="debit")
    assert refused.value.body["code"] == "insufficient_credits"
    with pytest.raises(dodopayments.ConflictError):  # the same key for another request
        bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="1", entry_type="debit",
                                idempotency_key="debit-1")
    with pytest.raises(dodopayments.UnprocessableEntityError) as bad:
        bal.create_ledger_entry("cus_sdk_credits", credit_entitlement_id=ent.id, amount="1.001", entry_type="debit")
    assert bad.value.body["field"] == "amount"

    current = bal.retrieve("cus_sdk_credits", credit_entitlement_id=ent.id)
    assert (current.balance, current.overage, current.customer_id) == ("950.25", "0.00", "cus_sdk_credits")
    grants = bal.list_grants("cus_sdk_credits", credit_entitlement_id=ent.id, page_size=100).items
    assert [(g.initial_amount, g.remaining_amount, g.source_type, g.is_expired) for g in grants] == [
        ("1000.00", "950.25", "api", False), ("200.50", "0.00", "api", False)]
    assert grants[0].metadata == {"pack": "welcome"} and grants[1].expires_at is not None
    active = bal.list_grants("cus_sdk_credits", credit_entitlement_id=ent.id, status="active").items
    assert [g.id for g in active] == [first.grant_id]
    ledger = bal.list_ledger("cus_sdk_credits", credit_entitlement_id=ent.id, page_size=100).items
    assert [(e.transaction_type, e.amount, e.balance_after) for e in ledger] == [
        ("credit_deducted", "250.25", "950.25"), ("credit_added", "200.50", "1200.50"),
        ("credit_added", "1000.00", "1000.00")]
    assert ledger[0].description == "batch job 7" and ledger[2].metadata == {"pack": "welcome"}
    only = bal.list_ledger("cus_sdk_credits", credit_entitlement_id=ent.id, transaction_type="credit_deducted").items
    assert [e.id for e in only] == [debit.id]
    listed = bal.list(ent.id, page_size=100).items
    assert [(b.customer_id, b.balance) for b in listed] == [("cus_sdk_credits", "950.25")]
    summary = sdk.customers.list_credit_entitlements("cus_sdk_credits").items
    assert [(i.credit_entitlement_id, i.balance, i.unit) for i in summary] == [(ent.id, "950.25", "API Calls")]

    sdk.credit_entitlements.delete(ent.id)
    with pytest.raises(dodopayments.NotFoundError):
        sdk.credit_entitlements.retrieve(ent.id)
    assert ent.id in [e.id for e in sdk.credit_entitlements.list(deleted=True).items]
    sdk.credit_entitlements.undelete(ent.id)
    assert sdk.credit_entitlements.retrieve(ent.id).id == ent.id


def test_overage_entitlement_in_minor_units(sdk):
    ent = sdk.credit_entitlements.create(name="Tokens", unit="Tokens", precision=0, overage_enabled=True,
                                         rollover_enabled=True, rollover_percentage=25, rollover_timeframe_count=1,
                                         rollover_timeframe_interval="Month", max_rollover_count=2,
                                         overage_behavior="invoice_at_billing", overage_limit=100,
                                         price_per_unit="1", currency="USD")
    assert (ent.price_per_unit, ent.currency, ent.overage_limit, ent.rollover_timeframe_interval) == (
        "1", "USD", 100, "Month")
    bal = sdk.credit_entitlements.balances
    bal.create_ledger_entry("cus_over", credit_entitlement_id=ent.id, amount="10", entry_type="credit")
    over = bal.create_ledger_entry("cus_over", credit_entitlement_id=ent.id, amount="60", entry_type="debit")
    assert (over.balance_after, over.overage_before, over.overage_after) == ("0", "0", "50")
    with pytest.raises(dodopayments.BadRequestError):  # 50 + 51 > overage_limit 100
        bal.create_ledger_entry("cus_over", credit_entitlement_id=ent.id, amount="51", entry_type="debit")
    b = bal.retrieve("cus_over", credit_entitlement_id=ent.id)
    assert (b.balance, b.overage) == ("0", "50")
    with pytest.raises(dodopayments.NotFoundError):
        bal.retrieve("cus_nobody", credit_entitlement_id=ent.id)
    with pytest.raises(dodopayments.UnprocessableEntityError) as bad:
        sdk.credit_entitlements.create(name="x", unit="x", precision=0, overage_enabled=True, rollover_enabled=False)
    assert bad.value.body["field"] == "price_per_unit"


def test_customer_wallets(sdk):
    wallets = sdk.customers.wallets
    w = wallets.ledger_entries.create("cus_wallet", amount=5000, currency="USD", entry_type="credit",
                                      idempotency_key="topup-1", reason="top-up")
    assert (w.balance, w.currency, w.customer_id) == (5000, "USD", "cus_wallet")
    assert wallets.ledger_entries.create("cus_wallet", amount=5000, currency="USD", entry_type="credit",
                                         idempotency_key="topup-1").balance == 5000  # replay: nothing added
    assert wallets.ledger_entries.create("cus_wallet", amount=1250, currency="USD", entry_type="debit").balance == 3750
    wallets.ledger_entries.create("cus_wallet", amount=900, currency="EUR", entry_type="credit")
    with pytest.raises(dodopayments.BadRequestError):
        wallets.ledger_entries.create("cus_wallet", amount=901, currency="EUR", entry_type="debit")
    listed = wallets.list("cus_wallet")
    assert [(x.currency, x.balance) for x in listed.items] == [("EUR", 900), ("USD", 3750)]
    assert listed.total_balance_usd == 3750
    entries = wallets.ledger_entries.list("cus_wallet", currency="USD").items
    assert [(e.event_type, e.is_credit, e.amount, e.before_balance, e.after_balance) for e in entries] == [
        ("merchant_adjustment", False, 1250, 5000, 3750), ("merchant_adjustment", True, 5000, 0, 5000)]


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # subscriptions.create (the SDK's own mark)
def test_a_balance_falls_as_metered_events_arrive(sdk, live_server):
    """Issue 14's done-when: the SDK attaches a credit entitlement to a product whose meter is paid with credits,
    subscribes a customer, sends usage events, and sees the balance fall (the server's deduction consumer writes the
    ledger; balance reads count what it has not written yet)."""
    ent = sdk.credit_entitlements.create(name="Metered", unit="calls", precision=0, overage_enabled=False,
                                         rollover_enabled=False)
    meter = sdk.meters.create(name="Metered calls", event_name="metered.call", measurement_unit="calls",
                              aggregation={"type": "count"})
    product = sdk.products.create(
        name="Prepaid calls", tax_category="saas",
        price={"type": "usage_based_price", "currency": "USD", "fixed_price": 0, "discount": 0,
               "purchasing_power_parity": False, "payment_frequency_count": 1, "payment_frequency_interval": "Month",
               "subscription_period_count": 1, "subscription_period_interval": "Year",
               "meters": [{"meter_id": meter.id, "credit_entitlement_id": ent.id, "meter_units_per_credit": "1"}]},
        credit_entitlements=[{"credit_entitlement_id": ent.id, "credits_amount": "100"}])
    assert product.credit_entitlements[0].credits_amount == "100"
    sub = sdk.subscriptions.create(customer={"customer_id": _customer(live_server, "cus_metered")},
                                   product_id=product.product_id, billing={"country": "US"}, quantity=1)
    balances = sdk.credit_entitlements.balances
    assert balances.retrieve("cus_metered", credit_entitlement_id=ent.id).balance == "100"
    seen = []
    for n in range(3):
        sdk.usage_events.ingest(events=[{"event_id": f"metered-{n}-{i}", "customer_id": "cus_metered",
                                         "event_name": "metered.call"} for i in range(10)])
        seen.append(balances.retrieve("cus_metered", credit_entitlement_id=ent.id).balance)
    assert seen == ["90", "80", "70"]
    deadline = time.monotonic() + 30  # the consumer thread writes the ledger within a second or so
    while time.monotonic() < deadline:
        ledger = balances.list_ledger("cus_metered", credit_entitlement_id=ent.id, page_size=100).items
        if sum(1 for e in ledger if e.transaction_type == "credit_deducted") == 30:
            break
        time.sleep(0.2)
    assert sorted(e.reference_id for e in ledger if e.transaction_type == "credit_deducted") == sorted(
        f"metered-{n}-{i}" for n in range(3) for i in range(10))
    usage = sdk.subscriptions.retrieve_credit_usage(sub.subscription_id)
    assert [(i.credit_entitlement_id, i.balance, i.limit_reached) for i in usage.items] == [(ent.id, "70", False)]


def _customer(live_server, cid: str) -> str:
    with live_server.client() as c:
        r = c.post("/v1/customers", json={"id": cid, "name": "Metered Inc", "email": f"{cid}@example.com"})
        assert r.status_code in (201, 409), r.text
    return cid
