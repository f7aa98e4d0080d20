"""Plan changes and invoice runs agree (issue 19, item 7), on both backends.

A run prices every due period from one snapshot, then writes. A backdated ``change-plan`` committed in
between used to be missing from the invoice the run finalized -- and later changes were refused as
"already invoiced". The transaction that writes an invoice now locks the subscription and re-reads its
plan history; a period whose history changed is priced again there. So a finalized invoice always
equals the period priced from the plan history that is stored, whichever of the two wins.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from meterbase.billing.periods import period_at
from meterbase.errors import Conflict
from meterbase.invoicing import Billing
from meterbase.invoicing.pricer import Pricer
from meterbase.storage import Store
from meterbase.storage.billing_repo import get_subscription
from support.clock import FakeClock
from support.threads import run_together

from .conftest import UTC

ENV = "test_mode"
FEB = datetime(2025, 2, 1, tzinfo=UTC)
CHANGE_AT = datetime(2025, 1, 16, tzinfo=UTC)


def setup(store, customers: list[str]) -> tuple[dict[str, str], str]:
    """Basic ($10 + $0.01 a call) from Jan 1st, 1,000 calls on Jan 20th each; returns (subs, Pro's id)."""
    b = Billing(store)
    meter = store.create_meter(ENV, {"name": "calls", "event_name": "api.call", "measurement_unit": "calls",
                                     "aggregation": {"type": "count"}})
    basic = b.create_product(ENV, {"name": "Basic", "currency": "USD", "fixed_fee": "10.00",
                                   "meters": [{"meter_id": meter.id, "price_per_unit": "0.01"}]})
    pro = b.create_product(ENV, {"name": "Pro", "currency": "USD", "fixed_fee": "100.00",
                                 "meters": [{"meter_id": meter.id, "price_per_unit": "0"}]})
    subs = {}
    for c in customers:
        b.create_customer(ENV, {"id": c, "email": f"{c}@x.io", "name": c})
        subs[c] = b.create_subscription(ENV, {"customer_id": c, "product_id": basic.id,
                                              "start": "2025-01-01T00:00:00Z"}).id
        for lo in range(0, 1000, 500):
            store.ingest(ENV, [{"event_id": f"{c}_{i}", "customer_id": c, "event_name": "api.call",
                                "timestamp": "2025-01-20T00:00:00Z"} for i in range(lo, lo + 500)])
    return subs, pro.id


def priced_now(store, sub_id: str):
    """January priced from the plan history stored now."""
    with store.read() as conn:
        sub = get_subscription(conn, ENV, sub_id)
        return Pricer(conn).draft(sub, period_at(sub.start, sub.anchor, sub.cycle, datetime(2025, 1, 5, tzinfo=UTC)))


def january(store, sub_id: str):
    [inv] = Billing(store).list_invoices(ENV, 10, subscription_id=sub_id)
    return inv


def test_a_change_committed_while_the_run_prices_is_on_the_finalized_invoice(store, monkeypatch):
    clock = FakeClock(datetime(2025, 2, 1, 1, tzinfo=UTC))
    store.clock = clock
    subs, pro = setup(store, ["cus_race"])
    priced, changed, errors = threading.Event(), threading.Event(), []
    detach = Pricer.detach

    def pausing_detach(self):  # the run has priced everything from its snapshot: let a change commit now
        detach(self)
        priced.set()
        assert changed.wait(60)

    monkeypatch.setattr(Pricer, "detach", pausing_detach)

    def change():
        try:
            assert priced.wait(60)
            other = Store(store.url, clock)
            try:
                Billing(other).change_plan(ENV, subs["cus_race"], pro, at=CHANGE_AT)
            finally:
                other.close()
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            changed.set()

    th = threading.Thread(target=change)
    th.start()
    result = Billing(store).run(FEB, ENV, finalize=True)
    th.join()
    monkeypatch.setattr(Pricer, "detach", detach)
    assert errors == [] and len(result.finalized) == 1
    inv = january(store, subs["cus_race"])
    fixed = [(ln["description"], ln["amount"]) for ln in inv.lines if ln["kind"] == "fixed"]
    # Basic for 15 of 31 days, Pro for 16: $10 × 15/31 = $4.84 (rounded once), $100 × 16/31 = $51.61
    assert fixed == [("Basic (prorated)", "4.84"), ("Pro (prorated)", "51.61")]
    assert str(inv.total) == "56.45" == str(priced_now(store, subs["cus_race"]).total)  # calls at Pro's $0 after the 16th
    with pytest.raises(Conflict, match="already invoiced"):  # a later change is refused: January is invoiced
        Billing(store).change_plan(ENV, subs["cus_race"], pro, at=datetime(2025, 1, 20, tzinfo=UTC))


def test_runs_and_changes_racing_freely_always_agree(store, monkeypatch):
    from meterbase.invoicing import run as billing_run

    clock = FakeClock(datetime(2025, 2, 1, 1, tzinfo=UTC))
    store.clock = clock
    customers = [f"cus_{i}" for i in range(12)]
    subs, pro = setup(store, customers)
    monkeypatch.setattr(billing_run, "CHUNK", 3)  # many write transactions for changes to land between
    stores = [Store(store.url, clock) for _ in range(3)]
    outcomes: dict[str, str] = {}
    start = threading.Barrier(4)  # the run and three changers

    def runner():
        start.wait(60)
        Billing(stores[0]).run(FEB, ENV, finalize=True)

    def changer(batch: list[str], s: Store):
        start.wait(60)
        for c in batch:
            try:
                Billing(s).change_plan(ENV, subs[c], pro, at=CHANGE_AT)
                outcomes[c] = "changed"
            except Conflict:
                outcomes[c] = "refused"

    errors = run_together(runner, *[lambda i=i: changer(customers[i::3], stores[1 + i % 2]) for i in range(3)])
    for s in stores:
        s.close()
    assert errors == [] and len(outcomes) == len(customers)
    Billing(store).run(FEB, ENV, finalize=True)  # whatever the first run left
    for c in customers:
        inv = january(store, subs[c])
        assert inv.status == "finalized"
        assert str(inv.total) == str(priced_now(store, subs[c]).total), (c, outcomes[c])
        assert str(inv.total) == ("56.45" if outcomes[c] == "changed" else "20.00"), (c, outcomes[c])
