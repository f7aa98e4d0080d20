"""8 OS processes calling ``allow()`` against one covering credit balance never overspend it (SQLite and
PostgreSQL): six meter GPU seconds through the policy engine, two debit the same balance directly; together they
stop exactly at zero, every refused call consumed nothing, and the ledger chains without a gap."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal

import pytest

from meterbase.credits.covering import LedgerCovering
from meterbase.credits.service import CreditService
from meterbase.policy.service import PolicyService
from meterbase.storage import open_store

from ._workers import allow_worker, debit_worker
from .policy_doc import CENTS, policy_text
from support.pg import create_database, drop_database, pg_available

ALLOWERS, DEBITERS, ATTEMPTS = 6, 2, 25
GRANTED = 150  # cents; 8 × 25 = 200 attempts of one cent each


def race(url: str) -> None:
    store = open_store(url)
    env = "race_allow"
    try:
        policy = PolicyService(store, policy_text(), environment=env, covering=LedgerCovering("bus_race"))
        policy.ensure_customer("cus_race", "prepaid")
        credits = CreditService(store, env, business_id="bus_race")
        ent = credits.create_entitlement(CENTS)
        credits.grant(ent.id, "cus_race", str(GRANTED))
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=allow_worker, args=(url, env, "", "cus_race", "gpu_compute", ATTEMPTS, "25s",
                                                        start, results)) for _ in range(ALLOWERS)]
        procs += [ctx.Process(target=debit_worker, args=(url, env, ent.id, "cus_race", ATTEMPTS, "1", start, results))
                  for _ in range(DEBITERS)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        start.set()
        outs = [results.get(timeout=300) for _ in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        assert not [o[3] for o in outs if o[3]]
        done = sum(o[0] for o in outs)
        print(f"\n{ALLOWERS} allow + {DEBITERS} debit processes: {done} of {len(procs) * ATTEMPTS} fit in {elapsed:.2f}s")
        assert done == GRANTED and sum(o[2] for o in outs) == len(procs) * ATTEMPTS - GRANTED
        allows = [o for o in outs if o[-1] == "allow"]
        allowed = sum(o[0] for o in allows)
        assert len(allows) == ALLOWERS and sum(Decimal(o[1]) for o in allows) == allowed * Decimal("0.01")  # 1 cent each
        assert policy.status("cus_race", "gpu_compute").used == allowed * 25  # refused calls metered nothing
        b = credits.balance(ent.id, "cus_race")
        assert (b.balance, b.overage) == (0, 0)
        ledger = credits.ledger(ent.id, "cus_race", limit=1000, newest_first=False)
        debits = [r.entry for r in ledger if r.entry.transaction_type == "credit_deducted"]
        assert len(debits) == GRANTED and sum(e.amount for e in debits) == GRANTED
        assert sum(1 for e in debits if e.reference_type == "policy_allow") == allowed
        assert all(a.entry.balance_after == b.entry.balance_before for a, b in zip(ledger, ledger[1:]))
    finally:
        store.close()


def test_sqlite_allow_processes_never_overspend_a_credit_balance(tmp_path):
    race(f"sqlite:///{tmp_path}/race.db")


def test_postgresql_allow_processes_never_overspend_a_credit_balance():
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_database()
    try:
        race(url)
    finally:
        drop_database(url)
