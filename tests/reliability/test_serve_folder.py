"""``meterbase serve`` folds in a process of its own: events acknowledged over HTTP reach the rollups
without any worker folding, a server stopped with SIGTERM stops its folder, and a server killed outright
leaves no orphan folder behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from meterbase.storage import open_store
from support.server import start_server, stop_server

ENV = "test_mode"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _folder_pids(server_pid: int) -> list[int]:
    """The server's children running the fold loop."""
    out = []
    for child in _children(server_pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"meterbase.storage.fold_process" in cmd:
            out.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(pred, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _start(tmp_path, name: str):
    url = f"sqlite:///{tmp_path}/{name}.db"
    store = open_store(url)
    key, _ = store.create_key("t", ENV)
    store.create_meter(ENV, {"name": "Calls", "event_name": "api.call", "measurement_unit": "calls",
                             "aggregation": {"type": "count"}})
    proc, base = start_server(url, tmp_path / f"{name}.log", {"MB_FOLD_INTERVAL": "0.1"})
    if not _wait(lambda: len(_folder_pids(proc.pid)) == 1, 20):
        stop_server(proc)
        store.close()
        raise AssertionError("serve started no folder process")
    (folder,) = _folder_pids(proc.pid)
    return store, key, proc, base, folder


def _ingest(base: str, key: str, prefix: str, n: int) -> None:
    events = [{"event_id": f"{prefix}-{i}", "customer_id": f"cus_{i % 5}", "event_name": "api.call",
               "timestamp": "2026-11-30T10:00:00Z", "metadata": {}} for i in range(n)]
    r = httpx.post(f"{base}/v1/events/ingest", json={"events": events}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["ingested_count"] == n, r.text


def test_serve_folds_in_its_own_process_and_stops_it(tmp_path):
    store, key, proc, base, folder = _start(tmp_path, "served")
    try:
        _ingest(base, key, "a", 300)
        headers = {"Authorization": f"Bearer {key}"}

        def folded() -> bool:
            w = httpx.get(f"{base}/v1/event-store/watermark", headers=headers).json()
            return w["folded_seq"] == w["latest_seq"] > 0

        assert _wait(folded)
        (meter,) = store.list_meters(ENV)
        usage = httpx.get(f"{base}/v1/meters/{meter.id}/usage", headers=headers,
                          params={"from": "2026-11-30T00:00:00Z", "to": "2026-12-01T00:00:00Z", "window": "day"})
        assert usage.status_code == 200, usage.text
        assert sum(int(row["value"]) for row in usage.json()["data"]) == 300
    finally:
        stop_server(proc)
        store.close()
    assert _wait(lambda: not _alive(folder), 10), "the folder outlived its server"


def test_a_killed_server_leaves_no_folder_behind(tmp_path):
    store, key, proc, base, folder = _start(tmp_path, "killed")
    try:
        _ingest(base, key, "a", 20)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: not _alive(folder), 10), "an orphaned folder kept running"
    finally:
        if proc.poll() is None:
            stop_server(proc)
        store.close()
