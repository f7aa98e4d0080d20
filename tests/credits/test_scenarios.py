"""Scenarios that move the clock through billing cycles (anchor 2025-01-01, monthly, 1,000 credits per cycle):
grants, consumption, expiry, partial rollover, forfeiture, and overage under each of the four behaviours,
asserting every balance and every ledger entry. Both backends."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import select

from meterbase.credits import InsufficientCredits
from meterbase.credits.service import CreditService
from meterbase.storage.schema import webhook_outbox
from meterbase.timeutil import to_us
from meterbase.webhooks import add_endpoint

UTC = timezone.utc
BASE = {"name": "API credits", "unit": "calls", "precision": 0, "currency": "USD", "price_per_unit": "0.01"}
CYCLE = {"anchor": "2025-01-01T00:00:00Z", "interval": "month", "credits_per_cycle": "1000", "source_id": "sub_1"}


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def ts(month: int, day: int, hour: int = 0) -> str:
    return at(month, day, hour).strftime("%Y-%m-%dT%H:%M:%SZ")


def entries(svc, ent_id: str, customer: str = "cus_1") -> list[tuple]:
    """(type, amount, balance before → after, overage before → after, when) of every entry, oldest first."""
    return [(e["transaction_type"], e["amount"], e["balance_before"], e["balance_after"], e["overage_before"],
             e["overage_after"], e["created_at"])
            for e in (r.to_dict() for r in svc.ledger(ent_id, customer, newest_first=False, limit=1000))]


def balance(svc, ent_id: str, customer: str = "cus_1") -> tuple[str, str]:
    b = svc.balance(ent_id, customer).to_dict()
    return b["balance"], b["overage"]


def test_grant_consume_expire_partial_rollover_forfeit_and_forgiven_overage(credits, clock):
    ent = credits.create_entitlement({**BASE, "overage_enabled": True, "overage_limit": "500",
                                      "rollover_enabled": True, "rollover_percentage": 50, "max_rollover_count": 1,
                                      "rollover_timeframe_count": 1, "rollover_timeframe_interval": "Month"})
    e = ent.id
    credits.set_cycle(e, "cus_1", CYCLE)  # 2025-01-01 12:00: the January credits
    assert balance(credits, e) == ("1000", "0")
    clock.now = at(1, 5)
    credits.grant(e, "cus_1", "200", expires_at=ts(1, 15), reason="promo")
    clock.now = at(1, 10)
    d = credits.debit(e, "cus_1", "150").to_dict()
    # FIFO: the promo ends Jan 15, the cycle credits Feb 1: all 150 come from the promo
    assert [a["amount"] for a in d["allocations"]] == ["150"] and balance(credits, e) == ("1050", "0")
    clock.now = at(1, 15, 1)
    assert balance(credits, e) == ("1000", "0")  # a read never shows expired credit
    clock.now = at(1, 25)
    credits.debit(e, "cus_1", "600")
    clock.now = at(2, 20)  # past the January cycle end: 50 % of the 400 left rolls over, the rest expires
    assert balance(credits, e) == ("1200", "0")
    credits.debit(e, "cus_1", "1500")  # 200 rolled + 1000 new, 300 overage
    assert balance(credits, e) == ("0", "300")
    with pytest.raises(InsufficientCredits, match="overage limit"):
        credits.debit(e, "cus_1", "201")  # 300 + 201 > overage_limit 500: refused, nothing consumed
    assert balance(credits, e) == ("0", "300")
    clock.now = at(3, 10)  # March 1: overage forgiven, new credits
    credits.debit(e, "cus_1", "100")
    clock.now = at(5, 2)  # April 1: 900 left -> 450 roll, 450 expire; May 1: the rollover (rolled once) is forfeited
    assert balance(credits, e) == ("1500", "0")
    assert entries(credits, e) == [
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-01-01T12:00:00Z"),
        ("credit_added", "200", "1000", "1200", "0", "0", "2025-01-05T00:00:00Z"),
        ("credit_deducted", "150", "1200", "1050", "0", "0", "2025-01-10T00:00:00Z"),
        ("credit_expired", "50", "1050", "1000", "0", "0", "2025-01-15T00:00:00Z"),
        ("credit_deducted", "600", "1000", "400", "0", "0", "2025-01-25T00:00:00Z"),
        ("credit_rolled_over", "200", "400", "400", "0", "0", "2025-02-01T00:00:00Z"),
        ("credit_expired", "200", "400", "200", "0", "0", "2025-02-01T00:00:00Z"),
        ("credit_added", "1000", "200", "1200", "0", "0", "2025-02-01T00:00:00Z"),
        ("credit_deducted", "1500", "1200", "0", "0", "300", "2025-02-20T00:00:00Z"),
        ("overage_reset", "300", "0", "0", "300", "0", "2025-03-01T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-03-01T00:00:00Z"),
        ("credit_deducted", "100", "1000", "900", "0", "0", "2025-03-10T00:00:00Z"),
        ("credit_rolled_over", "450", "900", "900", "0", "0", "2025-04-01T00:00:00Z"),
        ("credit_expired", "450", "900", "450", "0", "0", "2025-04-01T00:00:00Z"),
        ("credit_added", "1000", "450", "1450", "0", "0", "2025-04-01T00:00:00Z"),
        ("rollover_forfeited", "450", "1450", "1000", "0", "0", "2025-05-01T00:00:00Z"),
        ("credit_rolled_over", "500", "1000", "1000", "0", "0", "2025-05-01T00:00:00Z"),
        ("credit_expired", "500", "1000", "500", "0", "0", "2025-05-01T00:00:00Z"),
        ("credit_added", "1000", "500", "1500", "0", "0", "2025-05-01T00:00:00Z"),
    ]
    grants = credits.grants(e, "cus_1")
    rolled = [g for g in grants if g["source_type"] == "rollover"]
    assert [(g["initial_amount"], g["remaining_amount"], g["rollover_count"], g["status"], g["closed"],
             g["expires_at"]) for g in rolled] == [
        ("200", "0", 1, "depleted", None, "2025-03-01T00:00:00Z"),
        ("450", "0", 1, "expired", "forfeited", "2025-05-01T00:00:00Z"),
        ("500", "500", 1, "active", None, "2025-06-01T00:00:00Z")]
    assert [g["status"] for g in credits.grants(e, "cus_1", status="active")] == ["active", "active"]


def test_invoice_at_billing_charges_overage_per_cycle(credits, clock):
    e = credits.create_entitlement({**BASE, "overage_enabled": True, "overage_behavior": "invoice_at_billing"}).id
    credits.set_cycle(e, "cus_1", CYCLE)
    clock.now = at(1, 20)
    credits.debit(e, "cus_1", "1300")  # 300 overage in January
    clock.now = at(2, 10)
    credits.debit(e, "cus_1", "999")  # February stays within its credits
    clock.now = at(3, 10)
    credits.debit(e, "cus_1", "1050")  # 50 overage in March
    clock.now = at(4, 1, 1)
    assert balance(credits, e) == ("1000", "0")
    assert [x for x in entries(credits, e) if x[0] != "credit_deducted"] == [
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-01-01T12:00:00Z"),
        ("overage_charged", "300", "0", "0", "300", "0", "2025-02-01T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-02-01T00:00:00Z"),
        ("credit_expired", "1", "1", "0", "0", "0", "2025-03-01T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-03-01T00:00:00Z"),
        ("overage_charged", "50", "0", "0", "50", "0", "2025-04-01T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "0", "0", "2025-04-01T00:00:00Z"),
    ]
    # invoice lines: 300 × $0.01 = $3.00 for January (charged Feb 1), 50 × $0.01 = $0.50 for March
    lines = credits.overage_lines("cus_1", to_us(at(1, 1)), to_us(at(5, 1)))
    assert [(c.line.quantity, c.line.unit_price, str(c.line.amount), c.line.currency,
             c.entry.to_dict()["period_start"], c.entry.to_dict()["period_end"]) for c in lines] == [
        (300, Decimal("0.01"), "3.00", "USD", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
        (50, Decimal("0.01"), "0.50", "USD", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z")]
    assert [str(c.line.amount) for c in credits.overage_lines("cus_1", to_us(at(2, 1)), to_us(at(3, 1)))] == ["3.00"]


def test_carry_deficit_keeps_overage_across_cycles(credits, clock):
    e = credits.create_entitlement({**BASE, "overage_enabled": True, "overage_behavior": "carry_deficit"}).id
    credits.set_cycle(e, "cus_1", CYCLE)
    clock.now = at(1, 20)
    credits.debit(e, "cus_1", "1300")
    clock.now = at(2, 10)
    assert balance(credits, e) == ("1000", "300")  # new credits do not reduce the carried overage
    credits.debit(e, "cus_1", "1100")
    clock.now = at(3, 10)
    assert balance(credits, e) == ("1000", "400")
    assert entries(credits, e)[1:] == [
        ("credit_deducted", "1300", "1000", "0", "0", "300", "2025-01-20T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "300", "300", "2025-02-01T00:00:00Z"),
        ("credit_deducted", "1100", "1000", "0", "300", "400", "2025-02-10T00:00:00Z"),
        ("credit_added", "1000", "0", "1000", "400", "400", "2025-03-01T00:00:00Z"),
    ]


def test_carry_deficit_auto_repay_repays_from_new_credits(credits, clock):
    e = credits.create_entitlement({**BASE, "overage_enabled": True,
                                    "overage_behavior": "carry_deficit_auto_repay"}).id
    credits.set_cycle(e, "cus_1", CYCLE)
    clock.now = at(1, 20)
    credits.debit(e, "cus_1", "1300")
    clock.now = at(2, 10)
    assert balance(credits, e) == ("700", "0")  # February's 1000 repaid the 300 first
    credits.debit(e, "cus_1", "2000")  # 700 + 1300 overage
    clock.now = at(2, 11)
    credits.grant(e, "cus_1", "500")  # a top-up repays too
    clock.now = at(3, 10)
    assert balance(credits, e) == ("200", "0")
    assert entries(credits, e)[1:] == [
        ("credit_deducted", "1300", "1000", "0", "0", "300", "2025-01-20T00:00:00Z"),
        ("credit_added", "1000", "0", "700", "300", "0", "2025-02-01T00:00:00Z"),
        ("credit_deducted", "2000", "700", "0", "0", "1300", "2025-02-10T00:00:00Z"),
        ("credit_added", "500", "0", "0", "1300", "800", "2025-02-11T00:00:00Z"),
        ("credit_added", "1000", "0", "200", "800", "0", "2025-03-01T00:00:00Z"),
    ]
    feb = [g for g in credits.grants(e, "cus_1") if g["created_at"] == "2025-02-01T00:00:00Z"]
    assert [(g["initial_amount"], g["remaining_amount"]) for g in feb] == [("1000", "0")]


def test_overage_disabled_refuses_at_zero_and_consumes_nothing(credits, clock):
    e = credits.create_entitlement({**BASE, "precision": 2}).id
    credits.grant(e, "cus_1", "10.50")
    credits.debit(e, "cus_1", "10.25")
    with pytest.raises(InsufficientCredits, match="balance 0.25, requested 0.26"):
        credits.debit(e, "cus_1", "0.26")
    assert balance(credits, e) == ("0.25", "0.00")
    assert len(entries(credits, e)) == 2


def test_rollover_timeframe_shorter_than_the_cycle_expires_midcycle(credits, clock):
    e = credits.create_entitlement({**BASE, "rollover_enabled": True, "rollover_timeframe_count": 10,
                                    "rollover_timeframe_interval": "Day"}).id
    credits.set_cycle(e, "cus_1", CYCLE)
    clock.now = at(1, 31)
    credits.debit(e, "cus_1", "250")
    clock.now = at(2, 5)
    assert balance(credits, e) == ("1750", "0")  # 750 rolled over (100 %), 1000 new
    clock.now = at(2, 11)
    assert balance(credits, e) == ("1000", "0")  # the rolled 750 were valid for 10 days
    assert entries(credits, e)[-1] == ("credit_expired", "750", "1750", "1000", "0", "0", "2025-02-11T00:00:00Z")


def test_every_change_queues_its_webhook_and_low_balance_fires_once(credit_store, clock):
    credits = CreditService(credit_store, "test_mode", business_id="bus_test")  # endpoints live in real modes
    with credit_store.write() as conn:
        add_endpoint(conn, credits.environment, "http://127.0.0.1:9/hooks", [], credit_store.now())
    e = credits.create_entitlement({**BASE, "overage_enabled": True, "overage_behavior": "invoice_at_billing",
                                    "low_balance_threshold_percent": 20}).id
    credits.set_cycle(e, "cus_1", CYCLE)
    clock.now = at(1, 10)
    credits.debit(e, "cus_1", "700")  # 1000 -> 300: above 20 % (200)
    credits.debit(e, "cus_1", "150")  # 300 -> 150: crosses 200
    credits.debit(e, "cus_1", "50")  # 150 -> 100: already below, no second alert
    credits.debit(e, "cus_1", "200")  # into overage
    clock.now = at(2, 2)
    credits.settle_due()
    with credit_store.read() as conn:
        rows = [(t, p) for t, p in conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)
                                                .where(webhook_outbox.c.environment == credits.environment))
                if orjson.loads(p)["data"]["credit_entitlement_id"] == e]
    types = sorted(t for t, _ in rows)
    assert types == sorted(["credit.added", "credit.deducted", "credit.deducted", "credit.balance_low",
                            "credit.deducted", "credit.deducted", "credit.overage_charged", "credit.added"])
    [low] = [orjson.loads(p)["data"] for t, p in rows if t == "credit.balance_low"]
    assert low == {"available_balance": "150", "brand_id": "brd_default", "credit_entitlement_id": e,
                   "credit_entitlement_name": "API credits", "customer_id": "cus_1",
                   "subscription_credits_amount": "1000", "subscription_id": "sub_1", "threshold_amount": "200",
                   "threshold_percent": 20}
    [charged] = [orjson.loads(p)["data"] for t, p in rows if t == "credit.overage_charged"]
    assert (charged["transaction_type"], charged["amount"], charged["overage_before"], charged["overage_after"],
            charged["business_id"]) == ("overage_charged", "100", "100", "0", "bus_test")
