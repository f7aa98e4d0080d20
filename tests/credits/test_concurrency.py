"""8 OS processes debiting one balance never overspend it, on SQLite and PostgreSQL: with overage disabled they
stop exactly at zero; with overage enabled they stop exactly at the overage limit. The balance equals the
ledger's sum afterwards."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal

import pytest

from meterbase.credits.service import CreditService
from meterbase.storage import open_store

from ._workers import debit_worker
from support.pg import create_database, drop_database, pg_available

WORKERS = 8


def race(url: str, entitlement: dict, granted: str, attempts: int, amount: str) -> dict:
    store = open_store(url)
    env = "race"
    try:
        svc = CreditService(store, env, business_id="bus_race")
        ent = svc.create_entitlement(entitlement)
        svc.grant(ent.id, "cus_race", granted)
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=debit_worker, args=(url, env, ent.id, "cus_race", attempts, amount, start, results))
                 for _ in range(WORKERS)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        start.set()
        outs = [results.get(timeout=180) for _ in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        errors = [o[3] for o in outs if o[3]]
        assert not errors, errors
        ledger = svc.ledger(ent.id, "cus_race", limit=1000)
        debits = [r.entry for r in ledger if r.entry.transaction_type == "credit_deducted"]
        balance = svc.balance(ent.id, "cus_race")
        done = sum(o[0] for o in outs)
        print(f"\n{WORKERS} processes x {attempts} debits of {amount}: {done} done, "
              f"{sum(o[2] for o in outs)} refused in {elapsed:.2f}s ({done / elapsed:.0f} debits/s)")
        return {"done": done, "debited": sum(Decimal(o[1]) for o in outs), "refused": sum(o[2] for o in outs),
                "balance": balance.balance, "overage": balance.overage, "ledger_debits": len(debits),
                "ledger_sum": sum((e.amount for e in debits), Decimal(0)),
                "chain": all(a.entry.balance_after == b.entry.balance_before and a.entry.overage_after == b.entry.overage_before
                             for b, a in zip(ledger, ledger[1:]))}
    finally:
        store.close()


ENT = {"name": "race", "unit": "calls", "precision": 0}
OVERAGE = {**ENT, "overage_enabled": True, "overage_limit": "40", "price_per_unit": "0.01", "currency": "USD"}


def _check_exact(r: dict, attempts: int, fits: int, amount: int) -> None:
    assert r["done"] == fits and r["refused"] == WORKERS * attempts - fits
    assert r["debited"] == r["ledger_sum"] == fits * amount and r["ledger_debits"] == fits
    assert r["chain"]


def test_sqlite_processes_never_overspend(tmp_path):
    r = race(f"sqlite:///{tmp_path}/race.db", ENT, "120", 20, "1")  # 160 attempted, 120 fit
    _check_exact(r, 20, 120, 1)
    assert (r["balance"], r["overage"]) == (0, 0)


def test_sqlite_processes_stop_at_the_overage_limit(tmp_path):
    r = race(f"sqlite:///{tmp_path}/race.db", OVERAGE, "50", 10, "3")  # 50 + 40 overage = 90 -> 30 debits of 3
    _check_exact(r, 10, 30, 3)
    assert (r["balance"], r["overage"]) == (0, 40)


@pytest.fixture
def fresh_pg_url():
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_database("mb_credits_race")
    try:
        yield url
    finally:
        drop_database(url)


def test_postgresql_processes_never_overspend(fresh_pg_url):
    r = race(fresh_pg_url, ENT, "120", 20, "1")
    _check_exact(r, 20, 120, 1)
    assert (r["balance"], r["overage"]) == (0, 0)


def test_postgresql_processes_stop_at_the_overage_limit(fresh_pg_url):
    r = race(fresh_pg_url, OVERAGE, "50", 10, "3")
    _check_exact(r, 10, 30, 3)
    assert (r["balance"], r["overage"]) == (0, 40)


def test_threads_sharing_one_service_never_overspend(credits):
    from concurrent.futures import ThreadPoolExecutor

    from meterbase.credits import InsufficientCredits

    ent = credits.create_entitlement(ENT)
    credits.grant(ent.id, "cus_t", "100")

    def work(_):
        ok = 0
        for _ in range(20):
            try:
                credits.debit(ent.id, "cus_t", "1")
                ok += 1
            except InsufficientCredits:
                pass
        return ok

    with ThreadPoolExecutor(WORKERS) as pool:
        assert sum(pool.map(work, range(WORKERS))) == 100
    assert credits.balance(ent.id, "cus_t").balance == 0
