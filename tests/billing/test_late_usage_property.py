"""No event accepted by ingestion goes unbilled or is billed twice, whenever it arrives (issue 17).

Hypothesis draws events in January–March 2025 (counted calls on graduated tiers with a free allowance,
and a ``sum`` meter on volume tiers with a minimum, where more usage can cost less: a credit), each
arriving at some delay after its timestamp, and invoice runs at random instants (finalizing past the
grace period, finalizing now, or not at all), with a random grace period. After a last run once
April has ended, the invoices of January–April add up exactly to the price of every period's final
usage, and no adjustment is left pending. On every backend, through the service the API calls, with
the default lookback (every event arrives within 90 days of its period's end).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings, strategies as st

from meterbase.billing.periods import period_at
from meterbase.invoicing import Billing
from meterbase.invoicing.pricer import Pricer
from meterbase.storage import open_store
from meterbase.storage import billing_adjustments as adj_repo
from meterbase.storage.billing_repo import get_subscription
from support.clock import FakeClock

from .conftest import UTC

ENV = "test_mode"
START = datetime(2025, 1, 1, tzinfo=UTC)
HOURS = (31 + 28 + 31) * 24  # January to March
LAST = START + timedelta(hours=HOURS + 29 * 24)  # April 30th: every event has arrived, every random run happened
GRADUATED = {"model": "graduated", "free_threshold": 3, "tiers": [
    {"up_to": 10, "unit_price": "1.00"}, {"up_to": 30, "unit_price": "0.50"}, {"up_to": None, "unit_price": "0.25"}]}
VOLUME = {"model": "volume", "minimum": "2.00", "tiers": [
    {"up_to": 20, "unit_price": "0.30"}, {"up_to": None, "unit_price": "0.07"}]}

event = st.tuples(st.integers(0, HOURS - 1), st.integers(0, 24 * 50), st.sampled_from(["call", "size"]),
                  st.integers(1, 9))  # (hour of its timestamp, hours until it arrives, which meter, size value)
run = st.tuples(st.integers(0, HOURS + 29 * 24), st.sampled_from(["no", "finalize", "now"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=14), runs=st.lists(run, max_size=6),
       grace=st.sampled_from([0, 24, 24 * 5]))
@example(events=[(0, 0, "call", 1)] * 3 + [(349, 420, "call", 1)], runs=[(768, "finalize")], grace=24)  # January
# finalized on Feb 2nd (past its grace period), a January call arriving an hour later: billed on April's invoice
def test_every_invoice_adds_up_to_the_final_usage_of_every_period(fresh_store_url, events, runs, grace):
    clock = FakeClock(START)
    store = open_store(fresh_store_url(), clock)
    try:
        b = Billing(store)
        calls = store.create_meter(ENV, {"name": "calls", "event_name": "call", "measurement_unit": "calls",
                                         "aggregation": {"type": "count"}})
        size = store.create_meter(ENV, {"name": "size", "event_name": "size", "measurement_unit": "GB",
                                        "aggregation": {"type": "sum", "key": "gb"}})
        product = b.create_product(ENV, {"name": "p", "currency": "USD", "fixed_fee": "5.00",
                                         "grace_period_hours": grace,
                                         "meters": [{"meter_id": calls.id, "price": GRADUATED},
                                                    {"meter_id": size.id, "price": VOLUME}]})
        b.create_customer(ENV, {"id": "cus_p", "email": "p@x.io", "name": "P"})
        sub = b.create_subscription(ENV, {"customer_id": "cus_p", "product_id": product.id,
                                          "start": START.isoformat()}).id
        timeline = [(min(START + timedelta(hours=h + delay, minutes=1), LAST), 0, i, (h, name, v))
                    for i, (h, delay, name, v) in enumerate(events)]
        timeline += [(START + timedelta(hours=h, minutes=30), 1, i, mode) for i, (h, mode) in enumerate(runs)]
        for at, kind, i, what in sorted(timeline):
            clock.now = at
            if kind == 0:
                h, name, v = what
                store.ingest(ENV, [{"event_id": f"e{i}", "customer_id": "cus_p", "event_name": name,
                                    "timestamp": (START + timedelta(hours=h)).isoformat(), "metadata": {"gb": v}}])
            else:
                b.run(at, ENV, finalize=what == "finalize", finalize_now=what == "now")
        clock.now = datetime(2025, 5, 1, tzinfo=UTC) + timedelta(hours=grace + 1)  # April ended, its grace too
        result = b.run(clock.now, ENV, finalize=True)
        assert result.skipped == []

        invoices = b.list_invoices(ENV, 100, subscription_id=sub)
        assert len(invoices) == 4 and {i.status for i in invoices} == {"finalized"}
        with store.read() as conn:
            s = get_subscription(conn, ENV, sub)
            pricer = Pricer(conn)
            final = [pricer.plan_draft(s, period_at(s.start, s.anchor, s.cycle, datetime(2025, m, 2, tzinfo=UTC)))
                     for m in (1, 2, 3, 4)]
            pending = adj_repo.list_adjustments(conn, ENV, 1000, 0, status="pending")
        assert pending == []
        assert sum((Decimal(str(i.total)) for i in invoices), Decimal(0)) == sum((d.total for d in final), Decimal(0))
        assert b.run(clock.now, ENV, finalize=True).adjustments == []  # a rerun adds nothing
    finally:
        store.close()
