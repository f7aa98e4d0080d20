"""Rows of section 3 (policy): concurrent ``allow()`` against one credit balance (the credit ledger covering a
prepaid hard limit, so every call draws from the balance in its transaction), beside the same calls without a
covering balance — allows/s and p99 in one run, so their ratio is the cost of the ledger draw.

Called by :mod:`bench.policy` (``deduction_rows``); every thread calls for the same customer, so all of them
contend for one balance row (the worst case for a credit balance, and what a shared team wallet looks like).
"""

from __future__ import annotations

import threading
import time

from .common import ENV, median, percentile, run_threads

POLICY = """\
policy:
  credits:
    gpu_second:
      pricing_model: tiered
      tiers:
        - up_to: 3600
          price: { amount: 0.0004 }
        - price: { amount: 0.0003 }
      stof_units: s
  plans:
    prepaid:
      default: true
      entitlements:
        gpu_compute:
          limit: { credit: gpu_second, mode: hard, value: 0, resets: true, reset_inc: 30days }
    open:
      entitlements:
        gpu_compute:
          limit: { credit: gpu_second, mode: observe, value: 0, resets: true, reset_inc: 30days }
"""
CENTS = {"name": "Prepaid cents", "unit": "USD cents", "precision": 0, "currency": "USD", "price_per_unit": "0.01",
         "covers_policy_usage": True}


def _threads(svc, customer: str, calls: int, threads: int) -> dict:
    lat: list[float] = []
    lock = threading.Lock()
    per = max(1, calls // threads)
    refused = [0]

    def worker(_t: int) -> None:
        mine, bad = [], 0
        for _ in range(per):
            t0 = time.perf_counter_ns()
            ok = svc.allow(customer, "gpu_compute", "25s").allowed  # $0.01: one credit drawn per call
            mine.append(time.perf_counter_ns() - t0)
            bad += not ok
        with lock:
            lat.extend(mine)
            refused[0] += bad

    wall = run_threads(worker, threads)
    ms = [x / 1e6 for x in lat]
    return {"median": median(ms), "p99": percentile(ms, 99), "ops_s": len(ms) / wall, "refused": refused[0]}


def deduction_rows(url: str, calls: int, concurrency: tuple[int, ...], log=print) -> tuple[list[dict], list[str]]:
    """``(rows, notes)`` for section 3, on a fresh database at ``url``."""
    from meterbase.credits.covering import LedgerCovering
    from meterbase.credits.service import CreditService
    from meterbase.policy import load_policy
    from meterbase.policy.service import PolicyService
    from meterbase.storage import open_store

    store = open_store(url)
    rows, notes = [], []
    try:
        doc = load_policy(POLICY)
        covered = PolicyService(store, doc, environment=ENV, covering=LedgerCovering())
        plain = PolicyService(store, doc, environment=ENV)
        credits = CreditService(store, ENV)
        ent = credits.create_entitlement(CENTS)
        covered.ensure_customer("cus_wallet", "prepaid")
        plain.ensure_customer("cus_plain", "open")
        credits.grant(ent.id, "cus_wallet", str(10 ** 9))
        _threads(covered, "cus_wallet", 50, 1)  # warm-up
        _threads(plain, "cus_plain", 50, 1)
        for threads in concurrency:
            base = _threads(plain, "cus_plain", calls, threads)
            r = _threads(covered, "cus_wallet", calls, threads)
            for op, res in (("allow, one customer, no balance", base), ("allow, one credit balance", r)):
                rows.append({"mode": "in-process", "op": op, "clients": threads, "median": res["median"],
                             "p99": res["p99"], "unit": "ms", "ops/s": res["ops_s"], "target": "report",
                             "meets": "-" if not res["refused"] else f"{res['refused']} refused"})
            log(f"  policy allow against a credit balance x{threads}: {r['ops_s']:,.0f}/s, p99 {r['p99']:.2f} ms "
                f"(without: {base['ops_s']:,.0f}/s, p99 {base['p99']:.2f} ms)")
            notes.append(f"credit balance x{threads}: {r['ops_s'] / base['ops_s']:.2f} of the allows/s without one")
        drawn = credits.balance(ent.id, "cus_wallet")
        notes.append(f"deduction rows: every call drew one credit in its transaction ({10 ** 9 - drawn.balance:,} drawn "
                     "in all, none overspent); 'no balance' is the same call on an observe limit (no ledger write)")
    finally:
        store.close()
    return rows, notes
