"""PolicyService reads served by the Store's policy cache stay exact (SQLite) or catch up (PostgreSQL).

``fresh`` is a service on a second Store whose cache is closed, so every read goes to the database: the
cached service must always answer what it answers. Writes by another OS process must be seen at once on
SQLite (``PRAGMA data_version``) and once their notification arrives on PostgreSQL (polled, no timing
assertion); this process's own writes at once on both.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import event, text

from meterbase.errors import MeterbaseError, ValidationError
from meterbase.policy.service import PolicyService
from meterbase.storage import Store
from meterbase.storage.policy_repo import PolicyCustomerRow

from ._cache_workers import OtherProcess

PG_WAIT = 5.0  # seconds a PostgreSQL notification may take before a test gives up


def _url(store: Store) -> str:
    return store.write_engine.url.render_as_string(hide_password=False)


@pytest.fixture
def fresh(backend_store, env, clock):
    """A service on its own Store that never serves from a cache (the reference answer)."""
    store = Store(_url(backend_store), clock)
    store.policy_cache.close()
    try:
        yield PolicyService(store, environment=env)
    finally:
        store.close()


@pytest.fixture
def other(backend_store, env, clock, svc):
    """Another OS process with its own Store, frozen at this test's clock (``svc`` has stored the policy)."""
    with OtherProcess(_url(backend_store), env, clock()) as proc:
        yield proc


def settle(svc: PolicyService) -> None:
    """Let this process's own notifications arrive (PostgreSQL reads through while they are pending)."""
    assert svc.store.policy_cache.sync(10)


@pytest.fixture
def warm(svc):
    """``svc`` with its cache serving (PostgreSQL: the listener is connected)."""
    settle(svc)
    return svc


def eventually(backend: str, read, expected) -> None:
    """SQLite: ``read() == expected`` right away. PostgreSQL: within PG_WAIT seconds."""
    if backend == "sqlite":
        assert read() == expected
        return
    deadline = time.monotonic() + PG_WAIT
    while (got := read()) != expected:
        assert time.monotonic() < deadline, f"still {got!r}, expected {expected!r}"
        time.sleep(0.002)


def answers(svc: PolicyService, customer: str, entitlement: str, amount=None):
    """What check and status say (or the error they raise), comparable across services."""
    out = []
    for call in (lambda: svc.check(customer, entitlement, amount).to_dict(), lambda: svc.status(customer, entitlement).to_dict()):
        try:
            out.append(call())
        except MeterbaseError as exc:
            out.append((type(exc).__name__, str(exc)))
    return out


# ---------------------------------------------------------------------------------------------- other processes


def test_check_sees_an_allow_committed_by_another_process(backend, warm, fresh, other):
    warm.ensure_customer("cus_x")  # free: hard limit of 3600 s
    settle(warm)
    first = warm.check("cus_x", "gpu_compute", 3000)
    assert first.allowed and warm.check("cus_x", "gpu_compute", 3000) is first  # served from the cache

    other.call("allow", "cus_x", "gpu_compute", 1000)

    expected = answers(fresh, "cus_x", "gpu_compute", 3000)
    assert expected[0]["allowed"] is False and expected[0]["used"] == "1000"
    eventually(backend, lambda: answers(warm, "cus_x", "gpu_compute", 3000), expected)
    assert warm.remaining("cus_x", "gpu_compute") == 2600


def test_check_sees_a_plan_change_made_by_another_process(backend, warm, fresh, other):
    warm.ensure_customer("cus_p")  # free: no video transcoding
    settle(warm)
    refused = warm.check("cus_p", "video_transcode", "1hr")
    assert refused.reason == "not_in_plan" and warm.check("cus_p", "video_transcode", "1hr") is refused

    other.call("set_plan", "cus_p", "pro")

    expected = answers(fresh, "cus_p", "video_transcode", "1hr")
    assert expected[0]["allowed"] is True and expected[0]["plan"] == "pro"
    eventually(backend, lambda: answers(warm, "cus_p", "video_transcode", "1hr"), expected)


def test_check_sees_a_policy_replaced_by_another_process(backend, warm, fresh, other, seed_text):
    warm.ensure_customer("cus_d")
    settle(warm)
    before = warm.check("cus_d", "gpu_compute", 7200)
    assert not before.allowed and before.policy_version == 1 and warm.check("cus_d", "gpu_compute", 7200) is before

    other.call("set_policy", seed_text.replace("value: '1hr'", "value: '2hr'"))

    expected = answers(fresh, "cus_d", "gpu_compute", 7200)
    assert expected[0]["allowed"] is True and expected[0]["policy_version"] == 2 and expected[0]["limit"] == "7200"
    eventually(backend, lambda: answers(warm, "cus_d", "gpu_compute", 7200), expected)


def test_a_new_thread_sees_what_another_process_committed_before_it(backend, warm, fresh, other):
    """A thread's first check (SQLite: its first data_version probe) must not trust what others cached."""
    warm.ensure_customer("cus_n")
    settle(warm)
    cached = warm.check("cus_n", "gpu_compute")
    assert cached.used == 0 and warm.check("cus_n", "gpu_compute") is cached  # cached by this thread

    other.call("allow", "cus_n", "gpu_compute", 7)

    def in_new_thread():
        out = []
        thread = threading.Thread(target=lambda: out.append(answers(warm, "cus_n", "gpu_compute")))
        thread.start()
        thread.join()
        return out[0]

    eventually(backend, in_new_thread, answers(fresh, "cus_n", "gpu_compute"))
    assert in_new_thread()[0]["used"] == "7"


# ---------------------------------------------------------------------------------------------- this process


def test_own_writes_are_seen_immediately(warm, fresh, seed_text, clock):
    warm.ensure_customer("cus_o")
    assert warm.check("cus_o", "gpu_compute").used == 0

    warm.allow("cus_o", "gpu_compute", 600)
    assert warm.check("cus_o", "gpu_compute").used == 600 == warm.value("cus_o", "gpu_compute")

    warm.set_plan("cus_o", "pro")
    assert warm.check("cus_o", "video_transcode", "1hr").allowed
    assert warm.limit("cus_o", "gpu_compute") == 36000

    warm.set_policy(seed_text.replace("value: '10hr'", "value: '20hr'"))
    assert warm.limit("cus_o", "gpu_compute") == 72000

    clock.advance(days=1)
    warm.set_plan("cus_o", "free", reset_anchor=True)  # a new period: nothing used in it yet
    assert warm.check("cus_o", "gpu_compute", 3600).used == 0
    for entitlement in ("gpu_compute", "gpu_access", "video_transcode"):
        assert answers(warm, "cus_o", entitlement, 1) == answers(fresh, "cus_o", entitlement, 1)


def test_warm_reads_run_no_sql(warm, backend_store):
    customers = [f"cus_w{i}" for i in range(10)]
    for c in customers:
        warm.ensure_customer(c, "pro")
    warm.allow(customers[0], "gpu_compute", 100)
    settle(warm)
    reads = [(c, e, a) for c in customers
             for e, a in (("gpu_compute", 1), ("gpu_compute", "1hr"), ("video_transcode", None), ("gpu_access", None), ("nope", 5))]
    for c, e, a in reads:  # fill
        warm.check(c, e, a)
        warm.status(c, e)

    statements: list[str] = []
    engines = {backend_store.write_engine, backend_store.read_engine}
    record = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        for i in range(1000):
            c, e, a = reads[i % len(reads)]
            warm.check(c, e, a)
        for c, e, _ in reads:
            warm.status(c, e), warm.remaining(c, e), warm.value(c, e, percent=True), warm.limit(c, e), warm.entitlement(c, e)
        assert statements == []

        warm.allow(customers[1], "gpu_compute", 5)  # a write runs SQL, and the next read refills
        assert statements and warm.check(customers[1], "gpu_compute").used == 5
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def test_check_cached_answers_only_from_the_cache(warm):
    warm.ensure_customer("cus_c")
    settle(warm)
    assert warm.check_cached("cus_c", "gpu_compute", 5) is None  # cold: needs the database
    full = warm.check("cus_c", "gpu_compute", 5)
    assert warm.check_cached("cus_c", "gpu_compute", 5) is full
    assert warm.check_cached("cus_c", "gpu_compute", "2min").to_dict() == warm.check("cus_c", "gpu_compute", "2min").to_dict()
    with pytest.raises(ValidationError):
        warm.check_cached("", "gpu_compute")
    with pytest.raises(ValidationError):
        warm.check_cached("cus_c", "gpu_compute", "ten")


def test_postgresql_reads_through_while_the_listener_is_down(backend, warm, fresh, other, env):
    if backend != "postgresql":
        pytest.skip("the listener is PostgreSQL's")
    cache = warm.store.policy_cache
    warm.ensure_customer("cus_l")
    settle(warm)
    cached = warm.check("cus_l", "gpu_compute")
    assert cached.used == 0 and warm.check("cus_l", "gpu_compute") is cached  # served from the cache
    listener = cache._listener
    listener.RETRY_SECONDS = 1.0  # stay down long enough for the write below to land unheard
    with fresh.store.write() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid})
    deadline = time.monotonic() + PG_WAIT
    while cache.view(env) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.002)

    other.call("allow", "cus_l", "gpu_compute", 60)  # nobody hears its notification
    assert warm.check("cus_l", "gpu_compute").used == 60  # read through

    assert cache.sync(10)  # reconnected: starts from empty views
    assert warm.check("cus_l", "gpu_compute").used == 60
    assert cache.view(env) is not None


def test_threads_read_their_own_writes_while_others_fill_the_cache(warm, fresh):
    """Checks racing allows on one customer never go back in time: a check after an allow sees it."""
    from concurrent.futures import ThreadPoolExecutor

    warm.ensure_customer("cus_t", "enterprise")

    def writer(_):
        seen = []
        for _ in range(15):
            after = warm.allow("cus_t", "gpu_compute", 1).used_after
            seen.append((after, warm.check("cus_t", "gpu_compute").used, warm.value("cus_t", "gpu_compute")))
        return seen

    def reader(_):
        return [warm.check("cus_t", "gpu_compute", 1).used for _ in range(300)]

    with ThreadPoolExecutor(8) as pool:
        writes = [pool.submit(writer, i) for i in range(4)]
        reads = [pool.submit(reader, i) for i in range(4)]
        for f in writes:
            assert all(after <= used and after <= value for after, used, value in f.result())
        for f in reads:
            f.result()
    assert warm.check("cus_t", "gpu_compute").used == 60 == fresh.check("cus_t", "gpu_compute").used


def test_a_fill_that_raced_an_invalidation_is_not_cached(warm, env):
    """A read that started before a change of its customer must not cache what it read."""
    cache = warm.store.policy_cache
    row = PolicyCustomerRow("cus_r", "free", 0, 0, 0)
    view = cache.view(env)
    mark = view.mark()  # a fill takes its mark, then reads the database...
    cache.invalidate(env, "cus_r")  # ...while a write of cus_r commits here
    assert view.put_customer(mark, row) is None and "cus_r" not in view.customers
    later = view.mark()
    assert view.put_customer(later, row) is view.customers["cus_r"]  # a read after it is fine
    cache.invalidate(env, "cus_r")
    assert "cus_r" not in view.customers and cache.view(env) is view  # other customers stay cached


# ---------------------------------------------------------------------------------------------- property


_RUNS = itertools.count()
_CUSTOMERS = st.integers(0, 1)
_ENTITLEMENTS = ("gpu_compute", "video_transcode", "gpu_access")
_WRITER = st.sampled_from(["cached", "fresh"])
_OPS = st.one_of(
    st.tuples(st.just("allow"), _CUSTOMERS, st.sampled_from(_ENTITLEMENTS), st.sampled_from([1, 600, "30min", 3600, 4000]), _WRITER),
    st.tuples(st.just("set_plan"), _CUSTOMERS, st.sampled_from(["free", "pro", "enterprise"]), st.booleans(), _WRITER),
    st.tuples(st.just("set_policy"), st.sampled_from(["1hr", "2hr"]), _WRITER),
    st.tuples(st.just("clock"), st.integers(-45, 45)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OPS, min_size=1, max_size=12))
def test_cached_reads_always_equal_fresh_reads(backend, warm, fresh, clock, seed_text, ops):
    run = next(_RUNS)
    customers = [f"cus_h{run}_{i}" for i in range(2)]
    for c in customers:
        warm.ensure_customer(c)
    start = clock.now

    def everything(svc):
        return [answers(svc, c, e, a) for c in customers for e in _ENTITLEMENTS for a in (None, 1, "1hr")]

    try:
        for op in ops:
            writer = {"cached": warm, "fresh": fresh}[op[-1]] if op[0] != "clock" else None
            try:
                if op[0] == "allow":
                    writer.allow(customers[op[1]], op[2], op[3])
                elif op[0] == "set_plan":
                    writer.set_plan(customers[op[1]], op[2], reset_anchor=op[3])
                elif op[0] == "set_policy":
                    writer.set_policy(seed_text.replace("value: '1hr'", f"value: '{op[1]}'"))
                else:
                    clock.advance(days=op[1])
            except MeterbaseError:  # e.g. "30min" for a boolean entitlement: refused, nothing written
                pass
            expected = everything(fresh)
            if writer is fresh:  # another Store: SQLite sees it at once, PostgreSQL once notified
                eventually(backend, lambda: everything(warm), expected)
            else:
                assert everything(warm) == expected
            settle(warm)  # PostgreSQL reads through while notifications are pending: now from the cache
            assert everything(warm) == everything(warm) == expected
    finally:
        clock.now = start
