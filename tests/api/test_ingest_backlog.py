"""The unfolded tail is bounded over HTTP: past ``MB_MAX_UNFOLDED`` an ingest waits for the folder, then
answers ``429 ingest_backlog`` with nothing stored; once the folder catches up, ingest is taken again."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import backlog


def _batch(prefix: str, n: int) -> dict:
    return {"events": [{"event_id": f"{prefix}{i}", "customer_id": "c", "event_name": "job",
                        "timestamp": "2025-03-01T12:00:00Z"} for i in range(n)]}


def _client(store, monkeypatch, **settings) -> TestClient:
    monkeypatch.setattr(backlog, "MAX_WAIT", 0.3)
    monkeypatch.setattr(backlog, "RECHECK", 0.05)
    # a server whose folder runs in another process (here: nobody folds until the test does)
    client = TestClient(create_app(store, Settings(database_url=store.url, fold_interval=0, folder_process=True,
                                                   **settings)))
    token, _ = store.create_key("rw", "live_mode")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_past_the_bound_ingest_is_refused_and_nothing_is_stored(store, monkeypatch):
    client = _client(store, monkeypatch, max_unfolded=3)
    assert client.post("/v1/events/ingest", json=_batch("a", 4)).json()["ingested_count"] == 4  # the tail was 0
    time.sleep(0.06)  # past the recheck interval (within it, the tail measured last is trusted)
    r = client.post("/v1/events/ingest", json=_batch("b", 2))
    assert r.status_code == 429, r.text
    assert r.headers["Retry-After"] == "1"
    body = r.json()
    assert body["code"] == "ingest_backlog"
    assert body["message"].startswith("ingest backlog: more than MB_MAX_UNFOLDED (3) events of live_mode await the folder")
    assert store.watermark("live_mode") == {"environment": "live_mode", "folded_seq": 0, "latest_seq": 4}
    r = client.post("/events/ingest", json=_batch("b", 2))  # the Dodo route: the same bound
    assert r.status_code == 429 and r.json()["code"] == "ingest_backlog"
    store.fold()
    time.sleep(0.06)  # past the recheck interval: the tail is measured again
    assert client.post("/v1/events/ingest", json=_batch("b", 2)).json()["ingested_count"] == 2
    assert store.watermark("live_mode")["latest_seq"] == 6


def test_a_test_mode_backlog_never_holds_live_mode_back(store, monkeypatch):
    client = _client(store, monkeypatch, max_unfolded=3)  # its key is live_mode
    test_token, _ = store.create_key("rw", "test_mode")
    as_test = {"Authorization": f"Bearer {test_token}"}
    assert client.post("/v1/events/ingest", json=_batch("t", 10), headers=as_test).status_code == 200
    time.sleep(0.06)
    assert client.post("/v1/events/ingest", json=_batch("u", 1), headers=as_test).status_code == 429  # test_mode: 10 > 3
    r = client.post("/v1/events/ingest", json=_batch("l", 2))  # live_mode: 0 of its own waiting
    assert r.status_code == 200 and r.json()["ingested_count"] == 2, r.text
    time.sleep(0.06)
    assert client.post("/v1/events/ingest", json=_batch("m", 1)).status_code == 200  # 2 waiting: within 3
    assert client.get("/v1/event-store/watermark").json()["unfolded"] == 3


def test_a_waiting_ingest_goes_through_when_the_folder_catches_up(store, monkeypatch):
    client = _client(store, monkeypatch, max_unfolded=3)
    client.post("/v1/events/ingest", json=_batch("a", 4))
    time.sleep(0.06)
    monkeypatch.setattr(backlog, "MAX_WAIT", 5.0)
    client.app.state.store.bound_backlog(3)  # the new wait applies to a new bound
    folder = threading.Timer(0.2, store.fold)
    folder.start()
    t0 = time.monotonic()
    r = client.post("/v1/events/ingest", json=_batch("b", 2))
    folder.join()
    assert r.status_code == 200 and r.json()["ingested_count"] == 2, r.text
    assert 0.15 < time.monotonic() - t0 < 4.0  # it waited for the fold, not for the whole 5 s


def test_without_a_folder_there_is_no_bound(store, monkeypatch):
    """MB_FOLD_INTERVAL=0 and no folder process (a bulk load folded later by `meterbase events fold`)."""
    monkeypatch.setattr(backlog, "MAX_WAIT", 0.3)
    client = TestClient(create_app(store, Settings(database_url=store.url, fold_interval=0, max_unfolded=3)))
    token, _ = store.create_key("rw", "live_mode")
    client.headers["Authorization"] = f"Bearer {token}"
    for prefix in "abc":
        assert client.post("/v1/events/ingest", json=_batch(prefix, 4)).status_code == 200


def test_the_bound_is_in_the_openapi_document(store, monkeypatch):
    doc = _client(store, monkeypatch).get("/openapi.json").json()
    for path in ("/v1/events/ingest", "/events/ingest"):
        answer = doc["paths"][path]["post"]["responses"]["429"]
        assert "MB_MAX_UNFOLDED" in answer["description"] and "Retry-After" in answer["headers"]
        assert "ingest_backlog" in answer["content"]["application/json"]["examples"]
