"""The batched invoice run (``Billing.run``) bills exactly what invoicing one period at a time does.

One database holds the same data set twice, once per environment: ``test_mode`` is billed by one
run, ``live_mode`` one period at a time with ``create_invoice``, and every invoice must match line
by line. The data set mixes products, a mid-period plan change, a cancellation, an ``anchor_day``,
a 10-day cycle, an anchor at 10:30 (windows with sub-hour edges, read from raw events) and usage
spread over many customers (some with none). The run also costs a number of SQL statements that
does not grow with the number of subscriptions, and a re-run is idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from sqlalchemy import event, select

from meterbase.invoicing import pricer as billing_pricing
from meterbase.invoicing import Billing
from meterbase.storage.schema import webhook_outbox
from meterbase.timeutil import iso_us
from meterbase.webhooks import add_endpoint

from .conftest import UTC

UNTIL = datetime(2025, 4, 1, tzinfo=UTC)
GRAD = {"model": "graduated", "tiers": [{"up_to": 1000, "unit_price": "0.002"}, {"up_to": None, "unit_price": "0.001"}]}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Data:
    """Builds the same billing data in any environment of one store."""

    def __init__(self, store, env: str):
        self.store, self.env, self.b = store, env, Billing(store)
        self.events: list[dict] = []
        self.n = 0
        self.subs: dict[str, str] = {}  # customer -> subscription id

    def usage(self, customer: str, name: str, when: datetime, n: int = 1, step=timedelta(0), **meta) -> None:
        for i in range(n):
            self.n += 1
            self.events.append({"event_id": f"e{self.n}", "customer_id": customer, "event_name": name,
                                "timestamp": (when + i * step).isoformat(), "metadata": meta})

    def flush(self) -> None:
        for i in range(0, len(self.events), 1000):
            assert self.store.ingest(self.env, self.events[i:i + 1000]).ingested == len(self.events[i:i + 1000])
        self.events = []

    def meter(self, name: str, event_name: str, agg: str = "count", key: str | None = None) -> str:
        return self.store.create_meter(self.env, {"name": name, "event_name": event_name, "measurement_unit": "units",
                                                 "aggregation": {"type": agg, "key": key}}).id

    def product(self, name: str, fee: str, meters: list[dict], **extra) -> str:
        return self.b.create_product(self.env, {"name": name, "currency": "USD", "fixed_fee": fee, "meters": meters,
                                                **extra}).id

    def subscribe(self, customer: str, product: str, start: str = "2025-01-01T00:00:00Z", **extra) -> str:
        self.b.create_customer(self.env, {"id": customer, "email": f"{customer}@x.io", "name": customer})
        self.subs[customer] = self.b.create_subscription(self.env, {"customer_id": customer, "product_id": product,
                                                                     "start": start, **extra}).id
        return self.subs[customer]


def varied(store, env: str, clock) -> Data:
    """The varied data set (see the module docstring); the clock ends at 2025-04-15."""
    d = Data(store, env)
    calls, tokens, seats = d.meter("Calls", "api.call"), d.meter("Tokens", "llm", "sum", "tokens"), \
        d.meter("Seats", "login", "unique_count", "user")
    basic = d.product("Basic", "5.00", [{"meter_id": calls, "price_per_unit": "0.02", "free_threshold": 1000}])
    pro = d.product("Pro", "20.00", [{"meter_id": calls, "price_per_unit": "0.01", "free_threshold": 5000},
                                     {"meter_id": tokens, "price": GRAD},
                                     {"meter_id": seats, "price_per_unit": "3.00"}])
    tenday = d.product("Ten-day", "1.00", [{"meter_id": calls, "price_per_unit": "0.001"}],
                       billing_period={"interval": "day", "count": 10})
    clock.now = t("2025-04-15T00:00:00")

    d.subscribe("cus_a", basic)
    d.usage("cus_a", "api.call", t("2025-01-10T00:00:00"), 2500)
    for i in range(60):  # many customers on one plan and schedule: the shared usage windows
        c = f"cus_{i:02d}"
        d.subscribe(c, basic)
        if i % 3:  # a third of them have no usage at all
            d.usage(c, "api.call", t("2025-01-03T07:00:00"), i * 3, timedelta(hours=5, minutes=7))
            d.usage(c, "api.call", t("2025-03-01T00:00:00") - timedelta(microseconds=1), i % 4)  # last instant of Feb
    d.subscribe("cus_pro", basic)  # moves to Pro mid-January
    d.usage("cus_pro", "api.call", t("2025-01-05T00:00:00"), 3000)
    d.usage("cus_pro", "api.call", t("2025-01-20T00:00:00"), 4000)
    d.usage("cus_pro", "llm", t("2025-01-21T00:00:00"), 3, tokens="700")
    for u in ("ann", "bob", "ann", "cy"):
        d.usage("cus_pro", "login", t("2025-01-22T00:00:00"), user=u)
    for i in range(4):  # anchored at 10:30: every window has sub-hour edges
        c = f"cus_edge{i}"
        d.subscribe(c, pro, start="2025-01-01T10:30:00Z")
        d.usage(c, "api.call", t("2025-01-01T10:29:59.999999"), 7)  # before the subscription: never billed
        d.usage(c, "api.call", t("2025-01-01T10:30:00"), 10 + i)  # first instant of the first period
        d.usage(c, "api.call", t("2025-02-01T10:29:59.999999"), 20)  # last instant of the first period
        d.usage(c, "api.call", t("2025-02-01T10:30:00"), 30)  # first instant of the second
        d.usage(c, "llm", t("2025-02-01T10:15:00"), 2, tokens=str(600 * (i + 1)))
        d.usage(c, "login", t("2025-03-01T10:45:00"), user=f"u{i}")
    d.subscribe("cus_anchor", basic, start="2025-01-05T00:00:00Z", anchor_day=15)
    d.usage("cus_anchor", "api.call", t("2025-01-14T23:59:00"), 1200)
    d.usage("cus_anchor", "api.call", t("2025-01-15T00:00:00"), 1100)
    d.subscribe("cus_cancel", basic)
    d.usage("cus_cancel", "api.call", t("2025-02-02T00:00:00"), 1001)
    d.subscribe("cus_ten", tenday)
    d.usage("cus_ten", "api.call", t("2025-01-01T00:00:00"), 90, timedelta(days=1))
    d.flush()

    clock.now = t("2025-02-10T00:00:00")
    d.b.change_plan(env, d.subs["cus_pro"], pro, at=t("2025-01-16T00:00:00"))
    d.b.cancel(env, d.subs["cus_cancel"])  # at the end of February
    clock.now = t("2025-04-15T00:00:00")
    return d


def snapshot(billing: Billing, env: str) -> dict:
    """Every invoice of ``env`` keyed by (customer, period start), with its priced lines."""
    out = {}
    for inv in billing.list_invoices(env, 10_000):
        lines = [(ln["kind"], ln["description"], ln["period_start"], ln["period_end"], ln["quantity"], ln["free_units"],
                  ln["billable_units"], ln["unit_price"], ln["amount"]) for ln in inv.lines]
        out[(inv.customer_id, iso_us(inv.period_start))] = (iso_us(inv.period_end), inv.status, str(inv.subtotal),
                                                            str(inv.total), lines)
    return out


@pytest.mark.parametrize("shared_min", [billing_pricing.SHARED_WINDOW_MIN, 1])
def test_run_bills_exactly_what_one_by_one_invoicing_bills(store, clock, monkeypatch, shared_min):
    store.clock = clock
    monkeypatch.setattr(billing_pricing, "SHARED_WINDOW_MIN", shared_min)  # 1: every window read for all customers
    run_side, one_side = varied(store, "test_mode", clock), varied(store, "live_mode", clock)

    result = run_side.b.run(UNTIL, "test_mode")
    for sub, period in one_side.b.due(UNTIL, "live_mode"):
        one_side.b.create_invoice("live_mode", sub.id, period.start)

    got, want = snapshot(run_side.b, "test_mode"), snapshot(one_side.b, "live_mode")
    # cus_a, 60 more, cus_pro and cus_anchor: 3 months; 4 anchored at 10:30: 2; cancelled: 2; ten-day: 9
    assert len(got) == len(result.created) == 63 * 3 + 4 * 2 + 2 + 9
    assert got == want
    assert result.existing == [] and result.finalized == []

    jan = "2025-01-01T00:00:00Z"
    assert got[("cus_a", jan)][3] == "35.00"  # $5 + (2,500 calls − 1,000 free) × $0.02 = $5 + $30
    assert got[("cus_a", jan)][4][1][4:] == ("2500", "1000", "1500", "0.02", "30.00")
    assert got[("cus_00", jan)][3] == "5.00"  # no usage: the fee alone
    assert got[("cus_05", "2025-02-01T00:00:00Z")][4][1][4] == "1"  # 5 % 4 calls at Feb's last instant
    pro_jan = got[("cus_pro", jan)][4]  # Basic to the 16th, then Pro sharing one free allowance
    assert [(ln[1], ln[4], ln[8]) for ln in pro_jan[1:2] + pro_jan[3:]] == [
        ("Calls", "3000", "40.00"),  # (3,000 − 1,000) × $0.02
        ("Calls", "4000", "0.00"),  # Pro's 5,000 free less Basic's 1,000 already granted
        ("Tokens", "2100", "3.10"),  # 1,000 × $0.002 + 1,100 × $0.001
        ("Seats", "3", "9.00"),  # ann, bob, cy
    ]
    edge = got[("cus_edge2", "2025-01-01T10:30:00Z")]
    assert edge[0] == "2025-02-01T10:30:00Z" and edge[4][1][4] == "32"  # 12 at the first instant + 20 at the last
    assert got[("cus_edge2", "2025-02-01T10:30:00Z")][4][1][4] == "30"
    assert got[("cus_edge2", "2025-01-01T10:30:00Z")][4][2][4] == "3600"  # tokens at 10:15 Feb 1: 2 × 1,800
    assert sorted(k[1] for k in got if k[0] == "cus_anchor") == [
        "2025-01-05T00:00:00Z", "2025-01-15T00:00:00Z", "2025-02-15T00:00:00Z"]
    assert got[("cus_anchor", "2025-01-05T00:00:00Z")][4][1][4] == "1200"
    assert sorted(k[1] for k in got if k[0] == "cus_cancel") == [jan, "2025-02-01T00:00:00Z"]
    assert got[("cus_ten", jan)][4][1][4] == "10"


def count_statements(store):
    """A list that grows by one per SQL statement any engine of ``store`` executes."""
    seen: list[str] = []
    for engine in {store.write_engine, store.read_engine}:
        event.listen(engine, "before_cursor_execute", lambda *a, **k: seen.append(a[2]))
    return seen


def many(store, env: str, n: int, clock) -> Data:
    """``n`` subscriptions on one 2-meter plan from January 1st; every third customer has usage."""
    clock.now = t("2025-04-15T00:00:00")
    d = Data(store, env)
    calls, tokens = d.meter("Calls", "api.call"), d.meter("Tokens", "llm", "sum", "tokens")
    plan = d.product("Plan", "9.00", [{"meter_id": calls, "price_per_unit": "0.01", "free_threshold": 10},
                                      {"meter_id": tokens, "price": GRAD}])
    for i in range(n):
        d.subscribe(f"cus_{i:04d}", plan)
        if i % 3 == 0:
            d.usage(f"cus_{i:04d}", "api.call", t("2025-01-10T10:10:00"), 1 + i % 20)
            d.usage(f"cus_{i:04d}", "llm", t("2025-02-10T10:10:00"), tokens=str(i))
    d.flush()
    return d


def test_statements_do_not_grow_with_subscriptions(store, clock):
    store.clock = clock
    small, large = many(store, "test_mode", 60, clock), many(store, "live_mode", 600, clock)
    seen = count_statements(store)
    assert len(small.b.run(UNTIL, "test_mode").created) == 60 * 3
    n_small = len(seen)
    seen.clear()
    assert len(large.b.run(UNTIL, "live_mode").created) == 600 * 3
    n_large = len(seen)
    assert n_large / n_small < 2, (n_small, n_large)  # 10 × the subscriptions, about the same statements


def test_rerun_is_idempotent_and_finalize_reprices_drafts(store, clock):
    store.clock = clock
    with store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", ["invoice.created", "invoice.finalized"], 0)
    d = many(store, "test_mode", 30, clock)
    first = d.b.run(UNTIL, "test_mode")
    assert len(first.created) == 90 and first.existing == []

    again = d.b.run(UNTIL, "test_mode")  # drafts are due again (for finalization) but none is created
    assert again.created == [] and sorted(again.existing) == sorted(first.created) and again.finalized == []

    d.usage("cus_0000", "api.call", t("2025-03-31T23:59:59"), 100)  # late usage, before finalization
    d.flush()
    final = d.b.run(UNTIL, "test_mode", finalize=True)
    assert final.created == [] and sorted(final.finalized) == sorted(final.existing) == sorted(first.created)
    assert d.b.run(UNTIL, "test_mode", finalize=True).existing == []  # nothing left to do

    invoices = {i.id: i for i in d.b.list_invoices("test_mode", 1000)}
    assert {i.status for i in invoices.values()} == {"finalized"}
    march = next(i for i in invoices.values()
                 if i.customer_id == "cus_0000" and iso_us(i.period_start) == "2025-03-01T00:00:00Z")
    assert march.lines[1]["quantity"] == "100" and str(march.total) == "9.90"  # re-priced: $9 + 90 × $0.01

    with store.read() as conn:  # the messages carry what get_invoice reads back
        rows = conn.execute(select(webhook_outbox.c.event_type, webhook_outbox.c.payload)).all()
    bodies = [orjson.loads(r.payload) for r in rows]
    assert sorted(r.event_type for r in rows) == ["invoice.created"] * 90 + ["invoice.finalized"] * 90
    for body in bodies:
        if body["type"] == "invoice.finalized":
            assert body["data"] == invoices[body["data"]["id"]].to_dict()
        else:
            assert body["data"]["status"] == "draft" and body["data"]["finalized_at"] is None


def test_concurrent_runs_make_one_invoice_per_period(store, clock, monkeypatch):
    from meterbase.storage import Store
    from support.threads import run_together
    from meterbase.invoicing import run as billing_run

    store.clock = clock
    d = many(store, "test_mode", 90, clock)
    monkeypatch.setattr(billing_run, "CHUNK", 25)  # many small write transactions that interleave
    stores = [Store(store.url, clock) for _ in range(4)]
    results = []
    errors = run_together(*[lambda s=s: results.append(Billing(s).run(UNTIL, "test_mode", finalize=True))
                            for s in stores])
    for s in stores:
        s.close()
    assert errors == []
    created = [i for r in results for i in r.created]
    finalized = [i for r in results for i in r.finalized]
    assert len(created) == len(set(created)) == 270 and sorted(finalized) == sorted(created)
    assert len(d.b.list_invoices("test_mode", 1000, status="finalized")) == 270
