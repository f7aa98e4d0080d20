"""Done when: an abandoned session is metered exactly once even when two reapers run at the same time.

Two reapers = two threads, each with its own Store (own connection pool) on the same database, released
together by a barrier; on both backends also two OS processes. Plus stop() racing the reaper.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from decimal import Decimal


from meterbase.policy.service import PolicyService
from meterbase.sessions import SessionService
from meterbase.storage import Store

from ._workers import reap_worker
from .conftest import ENV, gpu_events

SESSIONS = 12


def _abandon(sessions, clock, n: int) -> list[int]:
    """Start ``n`` sessions 1 s apart, then let them all go silent for an hour. Returns their durations."""
    for i in range(n):
        sessions.start(f"cus_{i % 3}", f"s{i}", plan="enterprise")
        clock.advance(seconds=1)
    clock.advance(hours=1)
    return [n - i + 3600 for i in range(n)]


def _twin(store, clock) -> SessionService:
    """A second reaper: its own Store (own connections) on the same database, the same fake clock."""
    other = Store(store.write_engine.url.render_as_string(hide_password=False), clock)
    return SessionService(other, PolicyService(other, environment=ENV, clock=clock), clock)


def _race(*fns):
    barrier = threading.Barrier(len(fns))
    out, errors = [None] * len(fns), []

    def run(i, fn):
        try:
            barrier.wait(30)
            out[i] = fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return out


def _assert_metered_once(sessions, policy, store, durations):
    stopped = sessions.list(limit=1000)
    assert all(s.status == "stopped" for s in stopped)
    by_id = {s.session_id: s for s in stopped}
    assert all(by_id[f"s{i}"].charged == Decimal(d) for i, d in enumerate(durations))
    events = gpu_events(store)
    assert len(events) == len(durations)  # one usage event per session, never two
    assert len({e["event_id"] for e in events}) == len(durations)
    assert store.policy_cache.sync()  # the twin's commits reach this Store's cache (PostgreSQL: by notification)
    total = sum(policy.value(f"cus_{c}", "gpu_compute") for c in range(3))
    assert total == sum(durations)


def test_two_reapers_in_threads_meter_each_abandoned_session_once(sessions, policy, store, clock):
    durations = _abandon(sessions, clock, SESSIONS)
    twin = _twin(store, clock)
    try:
        a, b = _race(lambda: sessions.reap(1800), lambda: twin.reap(1800))
    finally:
        twin.store.close()
    print(f"\nreaper A: {len(a.reaped)} reaped, {len(a.skipped)} skipped; reaper B: {len(b.reaped)} reaped, "
          f"{len(b.skipped)} skipped")
    reaped_a = {s.session_id for s in a.reaped}
    reaped_b = {s.session_id for s in b.reaped}
    assert not a.errors and not b.errors
    assert reaped_a.isdisjoint(reaped_b) and len(reaped_a | reaped_b) == SESSIONS
    assert set(a.skipped) <= reaped_b and set(b.skipped) <= reaped_a
    _assert_metered_once(sessions, policy, store, durations)


def test_one_abandoned_session_two_reapers_repeatedly(sessions, policy, store, clock):
    twin = _twin(store, clock)
    try:
        for round_ in range(8):
            sessions.start("cus_0", f"s{round_}", plan="enterprise")
            clock.advance(seconds=1801)
            a, b = _race(lambda: sessions.reap(1800), lambda: twin.reap(1800))
            assert len(a.reaped) + len(b.reaped) == 1, round_
    finally:
        twin.store.close()
    assert len(gpu_events(store)) == 8
    assert store.policy_cache.sync()  # the twin's commits reach this Store's cache (PostgreSQL: by notification)
    assert policy.value("cus_0", "gpu_compute") == Decimal(8 * 1801)


def test_stop_racing_the_reaper_meters_once(sessions, policy, store, clock):
    twin = _twin(store, clock)
    try:
        for round_ in range(8):
            sessions.start("cus_0", f"s{round_}", plan="enterprise")
            clock.advance(seconds=1801)
            stop, reap = _race(lambda: twin.stop(f"s{round_}"), lambda: sessions.reap(1800))
            winner = "stop" if not stop.replayed else "reap"
            assert (winner == "reap") == (len(reap.reaped) == 1), round_
            assert stop.charged == Decimal(1801)  # both see the same, single charge
    finally:
        twin.store.close()
    assert len(gpu_events(store)) == 8
    assert store.policy_cache.sync()  # the twin's commits reach this Store's cache (PostgreSQL: by notification)
    assert policy.value("cus_0", "gpu_compute") == Decimal(8 * 1801)


def test_two_reaper_processes_meter_each_abandoned_session_once(sessions, policy, store, clock):
    durations = _abandon(sessions, clock, SESSIONS)
    url = store.write_engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=reap_worker, args=(url, ENV, clock.now.isoformat(), 1800, start, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    outs = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert not [o[3] for o in outs if o[3]], outs
    assert not [e for o in outs for e in o[2]], outs
    reaped = [set(o[0]) for o in outs]
    assert reaped[0].isdisjoint(reaped[1]) and len(reaped[0] | reaped[1]) == SESSIONS
    _assert_metered_once(sessions, policy, store, durations)
