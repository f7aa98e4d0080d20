"""Native /v1 API through HTTP (in-process ASGI client): errors, pagination, modes, usage options."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings


@pytest.fixture()
def api(store):
    token, _ = store.create_key("rw", "test_mode")
    ro, _ = store.create_key("ro", "test_mode", read_only=True)
    app = create_app(store, Settings(database_url=store.url, max_body_bytes=200_000))
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    client.read_only_token = ro
    return client


def ev(i, **kw):
    base = {"event_id": f"e{i}", "customer_id": "cus_a", "event_name": "api.call", "timestamp": "2025-01-21T10:30:00Z",
            "metadata": {"model": "gpt-4", "tokens": "10"}}
    base.update(kw)
    return base


def ingest(api, events):
    return api.post("/v1/events/ingest", json={"events": events})


def test_duplicates_and_conflicts_are_reported_not_stored(api):
    assert ingest(api, [ev(1), ev(2)]).json()["ingested_count"] == 2
    r = ingest(api, [ev(1), ev(2, customer_id="cus_other"), ev(3), ev(3)]).json()
    assert (r["ingested_count"], sorted(r["duplicates"]), r["conflicts"]) == (1, ["e1", "e3"], ["e2"])
    assert (r["duplicate_count"], r["conflict_count"]) == (2, 1)
    assert api.get("/v1/events/e2").json()["customer_id"] == "cus_a"


@pytest.mark.parametrize(
    "event, field, fragment",
    [
        ({"customer_id": "c", "event_name": "x"}, "events[1].event_id", "event_id is required"),
        (ev(1, timestamp="2999-01-01T00:00:00Z"), "events[1].timestamp", "future"),
        (ev(1, timestamp="yesterday"), "events[1].timestamp", "ISO-8601"),
        (ev(1, metadata={"a": {"nested": 1}}), "events[1].metadata.a", "strings, numbers or booleans"),
        (ev(1, metadata={"a": None}), "events[1].metadata.a", "no null"),
        ({**ev(1), "colour": "red"}, "events[1].colour", "unknown field"),
    ],
)
def test_bad_events_reject_the_whole_batch(api, event, field, fragment):
    r = ingest(api, [ev(100), event])
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == field and fragment in body["message"]
    assert api.get("/v1/events/e100").status_code == 404  # nothing half-written


def test_body_limits_and_bad_json(api):
    assert api.post("/v1/events/ingest", content=b"{nope", headers={"Content-Type": "application/json"}).status_code == 400
    huge = [ev(i, metadata={"blob": "x" * 4000}) for i in range(60)]
    r = ingest(api, huge)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert api.post("/v1/events/ingest", json={"events": [], "extra": 1}).status_code == 422


def test_auth_and_read_only_keys(api):
    assert api.get("/v1/meters", headers={"Authorization": ""}).status_code == 401
    assert api.get("/v1/meters", headers={"Authorization": "Bearer mb_test_wrong"}).json()["code"] == "unauthorized"
    ro = {"Authorization": f"Bearer {api.read_only_token}"}
    assert api.get("/v1/meters", headers=ro).status_code == 200
    r = api.post("/v1/events/ingest", json={"events": [ev(1)]}, headers=ro)
    assert r.status_code == 403 and "read-only" in r.json()["message"]


def test_cursor_pagination_walks_every_event_once(api):
    events = [ev(i, timestamp=f"2025-01-21T10:{i % 60:02d}:00Z") for i in range(250)]
    assert ingest(api, events).json()["ingested_count"] == 250
    seen, cursor = [], None
    while True:
        params = {"limit": 60, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/events", params=params).json()
        seen += [e["event_id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 250 and len(set(seen)) == 250
    stamps = [e["timestamp"] for e in api.get("/v1/events", params={"limit": 1000}).json()["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert api.get("/v1/events", params={"cursor": "garbage!"}).json()["field"] == "cursor"


def test_meter_definition_errors_name_the_field(api):
    r = api.post("/v1/meters", json={"name": "s", "event_name": "x", "aggregation": {"type": "sum"}})
    assert r.status_code == 422 and r.json()["field"] == "aggregation.key"
    r = api.post("/v1/meters", json={"name": "s", "event_name": "x", "aggregation": {"type": "count"},
                                     "filter": {"conjunction": "and", "clauses": [{"key": "a", "operator": "near", "value": 1}]}})
    assert r.status_code == 422 and r.json()["field"] == "filter.clauses[0].operator"
    r = api.post("/v1/meters", json={"name": "s", "event_name": "x", "aggregation": {"type": "median", "key": "a"}})
    assert r.status_code == 422 and r.json()["field"].startswith("aggregation.type")


def test_usage_group_by_timezone_windows_and_rejections(api):
    events = [
        ev(1, timestamp="2025-03-09T04:30:00Z", metadata={"model": "gpt-4", "tokens": "100"}),   # Mar 8 local (NY)
        ev(2, timestamp="2025-03-09T06:30:00Z", metadata={"model": "gpt-4", "tokens": "250"}),   # Mar 9 local
        ev(3, timestamp="2025-03-09T07:00:00Z", metadata={"model": "claude", "tokens": "1.5"}),
        ev(4, timestamp="2025-03-09T08:00:00Z", metadata={"model": "claude", "tokens": "lots"}),  # rejected
        ev(5, timestamp="2025-03-09T09:00:00Z", customer_id="cus_b", metadata={"model": "gpt-4", "tokens": 7}),
    ]
    ingest(api, events)
    mid = api.post("/v1/meters", json={"name": "t", "event_name": "api.call", "aggregation": {"type": "sum", "key": "tokens"}}).json()["id"]
    params = {"from": "2025-03-08T05:00:00Z", "to": "2025-03-10T04:00:00Z", "window": "day", "tz": "America/New_York"}
    data = api.get(f"/v1/meters/{mid}/usage", params={**params, "customer_id": "cus_a"}).json()["data"]
    [row] = data
    assert [w["value"] for w in row["windows"]] == ["100", "251.5"]
    assert row["windows"][1]["start"] == "2025-03-09T05:00:00Z" and row["windows"][1]["end"] == "2025-03-10T04:00:00Z"  # 23h DST day
    assert (row["value"], row["events"], row["rejected"]) == ("351.5", 4, 1)

    everyone = api.get(f"/v1/meters/{mid}/usage", params=params).json()["data"]
    assert {r["customer_id"]: r["value"] for r in everyone} == {"cus_a": "351.5", "cus_b": "7"}

    grouped = api.get(f"/v1/meters/{mid}/usage", params={**params, "group_by": "model"}).json()["data"]
    assert {(r["customer_id"], r["group"]["model"]): Decimal(r["value"]) for r in grouped} == {
        ("cus_a", "claude"): Decimal("1.5"), ("cus_a", "gpt-4"): Decimal(350), ("cus_b", "gpt-4"): Decimal(7)}

    bad = api.get(f"/v1/meters/{mid}/usage", params={**params, "tz": "Mars/Olympus"})
    assert bad.status_code == 422 and bad.json()["field"] == "tz"
    assert api.get("/v1/meters/mtr_missing/usage").status_code == 404


def test_archived_meters_keep_accruing(api):
    mid = api.post("/v1/meters", json={"name": "c", "event_name": "api.call", "aggregation": {"type": "count"}}).json()["id"]
    assert api.post(f"/v1/meters/{mid}/archive").json()["archived"] is True
    ingest(api, [ev(1), ev(2)])
    assert api.post(f"/v1/meters/{mid}/unarchive").json()["archived"] is False
    q = {"from": "2025-01-21T00:00:00Z", "to": "2025-01-22T00:00:00Z", "customer_id": "cus_a"}
    assert api.get(f"/v1/meters/{mid}/usage", params=q).json()["data"][0]["value"] == "2"
    r = api.patch(f"/v1/meters/{mid}", json={"name": "Calls", "measurement_unit": "calls"}).json()
    assert (r["name"], r["measurement_unit"], r["aggregation"]["type"]) == ("Calls", "calls", "count")
