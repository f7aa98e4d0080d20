"""N OS processes calling allow() on one hard limit never consume more than the limit, and on two entitlements
sharing a spend cap never spend more than the cap (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal

import pytest

from meterbase.policy.service import PolicyService
from meterbase.storage import open_store

from ._workers import CAP_POLICY, CONCURRENCY_POLICY, allow_worker, cap_worker
from support.pg import create_database, drop_database, pg_available

WORKERS = 8


def race(url: str, limit: int, attempts: int, amount: int = 1) -> dict:
    """Publish a hard limit of ``limit``, race WORKERS processes × ``attempts`` allow(amount); return totals."""
    store = open_store(url)
    env = "race"
    try:
        svc = PolicyService(store, CONCURRENCY_POLICY.replace("LIMIT", str(limit)), environment=env)
        svc.ensure_customer("cus_race")
        meter = store.create_meter(env, {"name": "GPU", "event_name": "gpu_second", "measurement_unit": "s",
                                         "aggregation": {"type": "sum", "key": "amount"}})
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=allow_worker, args=(url, env, "cus_race", attempts, amount, start, results))
                 for _ in range(WORKERS)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        start.set()
        outs = [results.get(timeout=120) for _ in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        errors = [o[3] for o in outs if o[3]]
        assert not errors, errors
        now = store.now()
        return {
            "allowed": sum(o[0] for o in outs),
            "consumed": sum(Decimal(o[1]) for o in outs),
            "refused": sum(o[2] for o in outs),
            "used": svc.value("cus_race", "gpu_compute"),
            "events": store.count_events(env),
            "meter": store.meter_total(env, meter.id, "cus_race", now - 3_600_000_000, now + 1).sum,
            "seconds": elapsed,
        }
    finally:
        store.close()


def _check(r: dict, limit: int, attempts: int, amount: int) -> None:
    attempted = WORKERS * attempts * amount
    expected = min(limit, attempted)
    print(f"\n{WORKERS} processes x {attempts} allow({amount}) on a hard limit of {limit}: "
          f"consumed {r['consumed']} ({r['allowed']} allowed, {r['refused']} refused) in {r['seconds']:.2f}s")
    assert r["consumed"] == expected  # exactly: never above the limit, nothing lost below it
    assert r["used"] == expected and r["meter"] == expected
    assert r["allowed"] == expected // amount and r["events"] == r["allowed"]
    assert r["allowed"] + r["refused"] == WORKERS * attempts


@pytest.mark.parametrize("limit, attempts", [(150, 30), (500, 30)])
def test_sqlite_processes_never_overshoot_a_hard_limit(tmp_path, limit, attempts):
    r = race(f"sqlite:///{tmp_path}/race.db", limit, attempts)
    _check(r, limit, attempts, 1)


@pytest.fixture
def fresh_pg_url():
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_database("mb_race")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.mark.parametrize("limit, attempts", [(150, 30), (500, 30)])
def test_postgresql_processes_never_overshoot_a_hard_limit(fresh_pg_url, limit, attempts):
    r = race(fresh_pg_url, limit, attempts)
    _check(r, limit, attempts, 1)


def test_postgresql_processes_with_larger_amounts(fresh_pg_url):
    r = race(fresh_pg_url, 1000, 25, amount=7)  # 8 × 25 × 7 = 1400 attempted; 142 × 7 = 994 fit
    assert r["consumed"] == 994 == r["used"] == r["meter"] and r["allowed"] == 142


def test_threads_sharing_one_service_never_overshoot(backend_store, env):
    from concurrent.futures import ThreadPoolExecutor

    svc = PolicyService(backend_store, CONCURRENCY_POLICY.replace("LIMIT", "100"), environment=env)
    svc.ensure_customer("cus_t")

    def work(_):
        return sum(1 for _ in range(20) if svc.allow("cus_t", "gpu_compute", 1).allowed)

    with ThreadPoolExecutor(WORKERS) as pool:
        allowed = sum(pool.map(work, range(WORKERS)))
    assert allowed == 100 and svc.value("cus_t", "gpu_compute") == 100 and backend_store.count_events(env) == 100


def cap_race(url: str, cap: str, attempts: int) -> tuple[int, Decimal, Decimal, Decimal]:
    """WORKERS processes × ``attempts`` allow(1) at $0.50, alternating two entitlements under one cap."""
    store = open_store(url)
    try:
        svc = PolicyService(store, CAP_POLICY.replace("CAP", cap), environment="caps")
        svc.ensure_customer("cus_cap")
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=cap_worker, args=(url, "caps", "cus_cap", attempts, i, start, results))
                 for i in range(WORKERS)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        start.set()
        outs = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        assert not [o[3] for o in outs if o[3]]
        used = svc.value("cus_cap", "reads") + svc.value("cus_cap", "writes")
        stored = svc.status("cus_cap", "reads").caps[0].spent
        return sum(o[0] for o in outs), sum(Decimal(o[1]) for o in outs), stored, used
    finally:
        store.close()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_processes_sharing_a_spend_cap_never_overspend_it(tmp_path, request, backend_name):
    url = f"sqlite:///{tmp_path}/caps.db" if backend_name == "sqlite" else request.getfixturevalue("fresh_pg_url")
    allowed, spent, stored, used = cap_race(url, "37.5", 15)  # 8 × 15 = 120 calls at $0.50 against $37.50: 75 fit
    assert (allowed, spent, stored, used) == (75, Decimal("37.5"), Decimal("37.5"), 75)
