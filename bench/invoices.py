"""4. Invoice run: N subscriptions with 4 metered lines each, one monthly period, ``Billing(store).run``.

Imports the billing store lazily: while it is missing the section prints "not available yet".
Setup (customers, product, subscriptions, usage events) is untimed and goes through the repository
functions in large transactions; only the invoice run is timed. API-specific code is in ``_adapter_*``.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .common import ENV, NOT_AVAILABLE, Section, fresh_database, temp_dir

TARGET_S = 60.0
PERIOD_START = datetime(2025, 3, 1, tzinfo=timezone.utc)
PERIOD_END = datetime(2025, 4, 1, tzinfo=timezone.utc)
BILLED_METERS = ["API requests", "LLM tokens", "GPU seconds", "Emails"]


@dataclass
class InvoiceConfig:
    subscriptions: int = 100_000
    events: int = 310_000  # usage in the period, spread over the first 10k customers (the rest bill zero usage)
    backend: str = "sqlite"
    budget_s: float = 60.0  # = the target: stop the run here and extrapolate (keeps `make bench` under 10 minutes)
    anchors: tuple[str, ...] = ("shared", "spread")


def available() -> bool:
    try:
        importlib.import_module("meterbase.invoicing.service")
    except ImportError:
        return False
    return True


# -- adapters ---------------------------------------------------------------------------------
def _start_us(i: int, anchors: str) -> int:
    """Subscription ``i``'s start: all at PERIOD_START ("shared": every period has the same bounds), or
    each at its own instant in the first 28 days of March, to the microsecond ("spread": like
    subscriptions created through the API over a month, so no two share a billing period)."""
    from meterbase.timeutil import to_us

    base = to_us(PERIOD_START)
    return base if anchors == "shared" else base + 1 + (i * 2_593_117_013) % (28 * 86_400_000_000)


def _until(anchors: str) -> datetime:
    """Shared: the March period; spread: every first period ends by May 1 (and no second one)."""
    return PERIOD_END if anchors == "shared" else datetime(2025, 5, 1, tzinfo=timezone.utc)


def _adapter_setup(store, meter_ids: dict, n_subs: int, anchors: str = "shared"):
    """Product with 4 metered lines, then ``n_subs`` customers + monthly subscriptions (see ``_start_us``).

    Rows are written with executemany, mirroring ``billing_repo.insert_customer/insert_subscription``
    (one call per row would make the setup longer than the run it prepares)."""
    import orjson

    from meterbase.billing.periods import billing_anchor
    from meterbase.invoicing.service import Billing
    from meterbase.storage.schema import billing_customers as tc, billing_plan_segments as tg, billing_subscriptions as ts
    from meterbase.timeutil import from_us, to_us

    billing = Billing(store)
    product = billing.create_product(ENV, {
        "name": "AI Platform", "currency": "USD", "fixed_fee": "49.00", "billing_period": {"interval": "month", "count": 1},
        "meters": [{"meter_id": meter_ids[m], "price_per_unit": "0.0001", "free_threshold": "100"} for m in BILLED_METERS],
    })
    cycle = product.plan.cycle
    now = store.now()
    for lo in range(0, n_subs, 20_000):
        ids = [f"cus_{i:05d}" for i in range(lo, min(n_subs, lo + 20_000))]
        subs = [f"sub_bench_{i:08d}" for i in range(lo, lo + len(ids))]
        starts = [_start_us(i, anchors) for i in range(lo, lo + len(ids))]
        anchor_of = {st: to_us(billing_anchor(from_us(st), cycle, None)) for st in set(starts)}
        with store.write() as conn:
            conn.execute(tc.insert(), [{"environment": ENV, "id": c, "email": f"{c}@example.com", "name": c,
                                        "phone_number": None, "metadata": "{}", "created_at": now, "updated_at": now}
                                       for c in ids])
            conn.execute(ts.insert(), [{"id": sid, "environment": ENV, "customer_id": c, "product_id": product.id,
                                        "quantity": 1, "interval": cycle.unit, "interval_count": cycle.count,
                                        "start_at": st, "anchor_at": anchor_of[st], "cancel_at_period_end": False,
                                        "ends_at": None, "thresholds": orjson.dumps([]).decode(), "billing": "{}",
                                        "metadata": "{}", "created_at": now, "updated_at": now}
                                       for sid, c, st in zip(subs, ids, starts)])
            conn.execute(tg.insert(), [{"subscription_id": sid, "effective_at": st, "product_id": product.id, "quantity": 1}
                                       for sid, st in zip(subs, starts)])
    return billing


class _Budget(Exception):
    pass


def _adapter_run(billing, budget_s: float, until: datetime = PERIOD_END) -> tuple[int, int, bool]:
    """Run the invoice run; stop after ``budget_s`` (checked at each ``progress`` call: the run commits
    a chunk of invoices at a time and reports after each, so stopping there is safe).
    Returns (invoices created, invoices due, finished)."""
    t0 = time.perf_counter()
    seen = {"done": 0, "total": 0}

    def progress(done: int, total: int) -> None:
        seen.update(done=done, total=total)
        if time.perf_counter() - t0 > budget_s:
            raise _Budget

    try:
        result = billing.run(until, ENV, progress=progress)
    except _Budget:
        return seen["done"], seen["total"], False
    return len(result.created), seen["total"] or len(result.created), True


COLUMNS = ["anchors", "subscriptions", "meters", "invoices", "seconds", "invoices/s", "projected s", "target", "meets", "setup s"]


def run(cfg: InvoiceConfig, log=print) -> Section:
    sec = Section("invoices", "4. Invoice run", COLUMNS)
    if not available():
        sec.status = "not_available"
        sec.rows = [{"subscriptions": cfg.subscriptions, "meters": 4, "target": f"<= {TARGET_S:.0f} s", "meets": NOT_AVAILABLE}]
        sec.notes.append("meterbase.invoicing.service is not importable yet")
        return sec
    for anchors in cfg.anchors:
        _run_one(cfg, anchors, sec, log)
    sec.notes.append(f"{cfg.events:,} usage events in March for the first 10k customers; the rest bill zero usage. "
                     "Target applies to the default 100k subscriptions. anchors=shared: every subscription started "
                     "2025-03-01 (one billing period for all); anchors=spread: each started at its own instant in "
                     "March, so every period has its own bounds, down to the microsecond.")
    return sec


def _run_one(cfg: InvoiceConfig, anchors: str, sec: Section, log) -> None:
    from meterbase.storage import Store

    from .loader import bulk_load
    from .query import START, _us

    with temp_dir() as tmp, fresh_database(cfg.backend, tmp) as url:
        t0 = time.perf_counter()
        load = bulk_load(url, cfg.events, _us(START), days=31, log=log)
        store = Store(url)
        try:
            billing = _adapter_setup(store, load["meter_ids"], cfg.subscriptions, anchors)
            setup = time.perf_counter() - t0
            log(f"  invoices: {cfg.subscriptions:,} subscriptions set up in {setup:.1f}s")
            t1 = time.perf_counter()
            n, due, finished = _adapter_run(billing, cfg.budget_s, _until(anchors))
            secs = time.perf_counter() - t1
        finally:
            store.close()
    projected = secs if finished else (secs * cfg.subscriptions / n if n else float("inf"))
    sec.rows.append({"anchors": anchors, "subscriptions": cfg.subscriptions, "meters": len(BILLED_METERS), "invoices": n,
                     "seconds": secs,
                     "invoices/s": n / secs if secs else float("nan"), "projected s": projected,
                     "target": f"<= {TARGET_S:.0f} s", "meets": ("yes" if finished and secs <= TARGET_S else "no") if cfg.subscriptions >= 100_000 else "n/a (size)",
                     "setup s": setup})
    sec.details[anchors] = {"finished": finished, "due": due}
    log(f"  invoices ({anchors}): {n:,} invoices in {secs:.1f}s{'' if finished else f' (stopped at the {cfg.budget_s:.0f}s budget; projected {projected:.0f}s)'}")
    if not finished:
        sec.notes.append(f"{anchors}: stopped after {cfg.budget_s:.0f} s with {n:,} of {due:,} invoices; 'projected s' extrapolates "
                         "linearly (invoices are committed in independent chunks; scaling the run's one-off up-front "
                         "reads too makes it a slight overestimate).")
    elif n != cfg.subscriptions:
        sec.notes.append(f"{anchors}: expected {cfg.subscriptions:,} invoices, the run created {n:,}")
        sec.status = "error"

