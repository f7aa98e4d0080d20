"""``GET /v1/event-store/watermark``: the folder's progress, per the key's mode."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings


def test_watermark_route_reports_folded_and_latest_seq(store):
    token, _ = store.create_key("rw", "test_mode")
    client = TestClient(create_app(store, Settings(database_url=store.url, fold_interval=0)))
    client.headers["Authorization"] = f"Bearer {token}"
    client.post("/v1/events/ingest", json={"events": [
        {"event_id": f"e{i}", "customer_id": "c", "event_name": "job", "timestamp": "2025-03-01T12:00:00Z"} for i in range(3)]})
    r = client.get("/v1/event-store/watermark")
    assert r.status_code == 200, r.text
    assert r.json() == {"environment": "test_mode", "folded_seq": 0, "latest_seq": 3}
    store.fold()
    assert client.get("/v1/event-store/watermark").json() == {"environment": "test_mode", "folded_seq": 3, "latest_seq": 3}
    assert "/v1/event-store/watermark" in client.get("/openapi.json").json()["paths"]
