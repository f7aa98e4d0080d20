"""Group commit: concurrent ingests share transactions, each gets its own exact result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from meterbase.events.validate import validate_batch
from meterbase.storage.group_commit import GroupCommitter


def _batch(store, prefix: str, n: int, dup_of: str | None = None):
    raw = [{"event_id": f"{prefix}_{i}", "customer_id": "c", "event_name": "api.call", "metadata": {"v": i}}
           for i in range(n)]
    if dup_of:
        raw.append({"event_id": f"{dup_of}_0", "customer_id": "c", "event_name": "api.call", "metadata": {"v": 0}})
    return validate_batch(raw, store.now())


def test_concurrent_batches_are_grouped_and_each_result_is_its_own(store):
    store.enable_group_commit(max_events=10_000)
    groups = []
    real = store._write_group

    def spy(batches):
        groups.append(len(batches))
        return real(batches)

    store._committer._write_group = spy
    batches = [_batch(store, f"b{k}", 50, dup_of="b0" if k else None) for k in range(40)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda b: store.ingest_events("test_mode", b), batches))
    assert results[0].ingested == 50 and results[0].duplicates == []
    for r in results[1:]:
        assert r.ingested == 50 and r.duplicates == ["b0_0"]  # b0 commits first or in the same group
    assert store.count_events("test_mode") == 40 * 50
    assert sum(groups) == 40 and max(groups) > 1  # some requests really shared a transaction


def test_a_failing_batch_does_not_fail_its_group(store, monkeypatch):
    store.enable_group_commit()
    real = store._write_group

    def flaky(batches):
        if any(b[0].event_id.startswith("bad") for _, b in batches):
            raise RuntimeError("disk on fire")
        return real(batches)

    store._committer._write_group = flaky
    good = _batch(store, "good", 10)
    bad = _batch(store, "bad", 10)
    with ThreadPoolExecutor(2) as pool:
        fg, fb = pool.submit(store.ingest_events, "test_mode", good), pool.submit(store.ingest_events, "test_mode", bad)
        assert fg.result().ingested == 10
        with pytest.raises(RuntimeError, match="disk on fire"):
            fb.result()
    assert store.count_events("test_mode") == 10


def test_batched_writes_share_a_transaction_and_fail_alone(store):
    """Store.batched_write: concurrent calls run in one transaction (SQLite), each in its own savepoint:
    each sees the earlier calls' writes, a failing call leaves no trace and raises to its own caller only.
    (PostgreSQL gives each call its own transaction; failures are still isolated.)"""
    from sqlalchemy import text

    with store.write() as conn:
        conn.execute(text("CREATE TABLE t_batched (k INTEGER PRIMARY KEY, seen INTEGER)"))
    groups = []
    if store._decisions is not None:
        committer = store._decisions
        real = committer._write_group

        def spy(fns):
            groups.append(len(fns))
            return real(fns)

        committer._write_group = spy

    def call(k: int):
        def fn(conn):
            seen = conn.execute(text("SELECT count(*) FROM t_batched")).scalar_one()
            conn.execute(text("INSERT INTO t_batched VALUES (:k, :seen)"), {"k": k, "seen": seen})
            if k % 5 == 0:
                raise ValueError(f"call {k} fails after writing")
            return seen
        return store.batched_write(fn)

    with ThreadPoolExecutor(16) as pool:
        futures = {k: pool.submit(call, k) for k in range(1, 61)}
    for k, fut in futures.items():
        if k % 5 == 0:
            with pytest.raises(ValueError, match=f"call {k} fails"):
                fut.result()
        else:
            assert isinstance(fut.result(), int)
    with store.read() as conn:
        rows = dict(conn.execute(text("SELECT k, seen FROM t_batched")).all())
    assert sorted(rows) == [k for k in range(1, 61) if k % 5]  # failed calls left nothing
    if store._decisions is not None:  # SQLite: one writer, so the calls ran one after another
        assert sorted(rows.values()) == list(range(48))  # each call saw exactly the committed calls before it
        assert sum(groups) == 60 and max(groups) > 1  # some calls really shared a transaction


def test_a_committer_serves_again_after_close_and_in_a_forked_child():
    """The writer thread starts on first use, restarts after close(), and a forked child (which
    inherits the committer but not its thread) gets its own instead of waiting forever."""
    import os

    c = GroupCommitter(lambda items: [item * 2 for item in items])
    assert c.submit(21) == 42
    c.close()
    assert c.submit(4) == 8
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if c.submit(5) == 10 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    c.close()


def test_items_arriving_while_the_gate_is_held_elsewhere_join_one_group():
    """The gate stands for another process's write: the writer takes its group only once past it."""
    gate = threading.Lock()
    groups: list[list[int]] = []

    def write_group(items):
        groups.append(list(items))
        return [i * 10 for i in items]

    committer = GroupCommitter(write_group, gate=lambda: gate)
    results: dict[int, int] = {}
    gate.acquire()  # someone else is writing
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, committer.submit(i))) for i in range(3)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while committer._queue.qsize() < 2 and time.monotonic() < deadline:  # the writer holds the first item
            time.sleep(0.01)
    finally:
        gate.release()
    for t in threads:
        t.join(5)
    committer.close()
    assert results == {0: 0, 1: 10, 2: 20}
    assert len(groups) == 1 and sorted(groups[0]) == [0, 1, 2]
