"""The server's folder process (``storage.fold_process``): it folds, comes back when killed, stops with the
server, and on SQLite keeps the write-ahead log checkpointed without the write lock.

The end-to-end side (``meterbase serve`` runs it and its workers fold nothing) is in
``tests/reliability/test_serve_folder.py``.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from meterbase.storage import fold_process, open_store

ENV = "test"


def _events(prefix: str, n: int) -> list[dict]:
    return [{"event_id": f"{prefix}-{i}", "customer_id": f"cus_{i % 7}", "event_name": "api.call",
             "timestamp": "2026-11-30T10:00:00Z", "metadata": {}} for i in range(n)]


def _meter(store):
    return store.create_meter(ENV, {"name": "Calls", "event_name": "api.call", "measurement_unit": "calls",
                                    "aggregation": {"type": "count"}})


def _wait_folded(store, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        w = store.watermark(ENV)
        if w["folded_seq"] == w["latest_seq"] > 0 or time.monotonic() > deadline:
            return w
        time.sleep(0.05)


def _rolled_up_events(store, meter) -> int:
    from sqlalchemy import func, select

    from meterbase.storage.schema import meter_rollups as r

    with store.read() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(r.c.events), 0))
                                .where(r.c.meter_id == meter.id, r.c.grain == 1)).scalar_one())


def test_the_folder_process_folds_and_stops(fresh_store_url):
    url = fresh_store_url()
    store = open_store(url)
    folder = None
    try:
        meter = _meter(store)
        assert store.ingest(ENV, _events("a", 250)).ingested == 250
        folder = fold_process.FolderProcess(url, 0.05).start()
        w = _wait_folded(store)
        assert w["folded_seq"] == w["latest_seq"]
        assert _rolled_up_events(store, meter) == 250  # the day rollups hold every event, once
        pid = folder.pid
        folder.stop()
        assert not folder.alive() and folder._proc.returncode == 0  # SIGTERM: a clean exit
        assert folder.restarts == 0
        assert store.ingest(ENV, _events("b", 10)).ingested == 10
        time.sleep(0.3)
        assert store.watermark(ENV)["folded_seq"] < store.watermark(ENV)["latest_seq"], f"{pid} still folds"
    finally:
        if folder is not None:
            folder.stop()
        store.close()


def test_a_killed_folder_process_is_restarted(fresh_store_url, monkeypatch):
    monkeypatch.setattr(fold_process, "RESTART_DELAY", 0.1)
    url = fresh_store_url()
    store = open_store(url)
    folder = fold_process.FolderProcess(url, 0.05).start()
    try:
        meter = _meter(store)
        store.ingest(ENV, _events("a", 40))
        _wait_folded(store)
        first = folder.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (folder.restarts == 0 or folder.pid == first) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert folder.restarts == 1 and folder.pid != first
        store.ingest(ENV, _events("b", 60))
        w = _wait_folded(store)
        assert w["folded_seq"] == w["latest_seq"]
        assert _rolled_up_events(store, meter) == 100
    finally:
        folder.stop()
        store.close()


def test_run_folds_and_checkpoints_until_stopped(tmp_path):
    url = f"sqlite:///{tmp_path}/mb.db"
    store = open_store(url)
    stop = threading.Event()
    t = threading.Thread(target=fold_process.run, args=(url, 0.02, stop))
    try:
        meter = _meter(store)
        store.ingest(ENV, _events("a", 300))
        wal = tmp_path / "mb.db-wal"
        assert wal.exists() and wal.stat().st_size > 0
        t.start()
        _wait_folded(store)
        assert _rolled_up_events(store, meter) == 300
        time.sleep(0.2)  # an idle round checkpoints: every WAL frame is back in the database file
        frames, done = fold_process.checkpoint(store)
        assert frames == done
    finally:
        stop.set()
        t.join(10)
        store.close()
    assert not t.is_alive()


def test_checkpoint_is_sqlite_only(store):
    found = fold_process.checkpoint(store)
    if store.write_engine.dialect.name == "postgresql":
        assert found is None
    else:
        frames, done = found
        assert 0 <= done <= frames
