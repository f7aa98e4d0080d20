"""``GET /v1/event-store/watermark``: the folder's progress, per the key's mode, and the backlog bound."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings


def client_for(store, settings: Settings) -> TestClient:
    token, _ = store.create_key("rw", "test_mode")
    client = TestClient(create_app(store, settings))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def ingest(client, n: int, prefix: str = "e") -> None:
    r = client.post("/v1/events/ingest", json={"events": [
        {"event_id": f"{prefix}{i}", "customer_id": "c", "event_name": "job", "timestamp": "2025-03-01T12:00:00Z"}
        for i in range(n)]})
    assert r.status_code == 200, r.text


def test_watermark_route_reports_folded_and_latest_seq(store):
    client = client_for(store, Settings(database_url=store.url, fold_interval=0))  # no folder here: no bound
    ingest(client, 3)
    r = client.get("/v1/event-store/watermark")
    assert r.status_code == 200, r.text
    assert r.json() == {"environment": "test_mode", "folded_seq": 0, "latest_seq": 3, "unfolded": 3, "max_unfolded": None}
    store.fold()
    assert client.get("/v1/event-store/watermark").json() == {
        "environment": "test_mode", "folded_seq": 3, "latest_seq": 3, "unfolded": 0, "max_unfolded": None}
    doc = client.get("/openapi.json").json()
    assert "/v1/event-store/watermark" in doc["paths"]
    fields = doc["components"]["schemas"]["FoldStatus"]["properties"]
    assert "This mode's events after folded_seq" in fields["unfolded"]["description"]
    assert "MB_MAX_UNFOLDED" in fields["max_unfolded"]["description"]
    assert "429 ingest_backlog" in fields["max_unfolded"]["description"]


def test_watermark_route_reports_the_bound_where_a_folder_runs(store):
    client = client_for(store, Settings(database_url=store.url, fold_interval=0, folder_process=True, max_unfolded=5))
    assert store.backlog_bound == 5
    ingest(client, 4)
    assert client.get("/v1/event-store/watermark").json() == {
        "environment": "test_mode", "folded_seq": 0, "latest_seq": 4, "unfolded": 4, "max_unfolded": 5}
    ingest(client, 3, "f")  # 4 waiting is within the bound: admitted, and now 7 wait (past it)
    assert client.get("/v1/event-store/watermark").json() == {
        "environment": "test_mode", "folded_seq": 0, "latest_seq": 7, "unfolded": 7, "max_unfolded": 5}
    store.fold()
    assert client.get("/v1/event-store/watermark").json() == {
        "environment": "test_mode", "folded_seq": 7, "latest_seq": 7, "unfolded": 0, "max_unfolded": 5}


def test_unfolded_counts_only_this_modes_events(store):
    """Both modes share one seq order: live_mode's events between test_mode's are not test_mode's tail."""
    client = client_for(store, Settings(database_url=store.url, fold_interval=0))
    ingest(client, 3)
    store.fold()
    live_token, _ = store.create_key("rw", "live_mode")
    for i in range(5):
        r = client.post("/v1/events/ingest", headers={"Authorization": f"Bearer {live_token}"}, json={"events": [
            {"event_id": f"live{i}", "customer_id": "c", "event_name": "job", "timestamp": "2025-03-01T12:00:00Z"}]})
        assert r.status_code == 200, r.text
    ingest(client, 1, prefix="late")
    w = client.get("/v1/event-store/watermark").json()
    assert w["latest_seq"] - w["folded_seq"] > 1  # the seqs in between are live_mode's
    assert w["unfolded"] == 1
    live = client.get("/v1/event-store/watermark", headers={"Authorization": f"Bearer {live_token}"}).json()
    assert live["unfolded"] == 5
