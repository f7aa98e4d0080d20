"""Group commit: concurrent ingests share transactions, each gets its own exact result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from meterbase.events.validate import validate_batch


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
