"""``GET /v1/events?meter_id=`` reads a bounded number of events per page (issue 19, item 9).

The meter's filter runs on each event's metadata: a filter that matches rarely used to scan every event of
the meter's name, in Python, on every request. Now a page reads at most ``events_repo.SCAN_BUDGET`` events and
past it answers 422 naming the bound and how to narrow the listing; within the budget the listing is exact.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import events_repo

ENV = "test_mode"


def _client(store) -> TestClient:
    token, _ = store.create_key("rw", ENV)
    client = TestClient(create_app(store, Settings(database_url=store.url)))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _seed(store, n: int, rare_every: int) -> None:
    rows = [{"event_id": f"e{i}", "customer_id": f"c{i % 7}", "event_name": "api.call",
             "timestamp": f"2025-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
             "metadata": {"tier": "gold" if i % rare_every == 0 else "free"}} for i in range(n)]
    for lo in range(0, n, 1000):
        store.ingest(ENV, rows[lo:lo + 1000])


def _rows_fetched(store):
    """Count the rows the database hands back to the listing (a budget on work, not on time)."""
    counter = {"rows": 0}

    def after(conn, cursor, statement, parameters, context, executemany):
        if "FROM events" in statement and "ORDER BY events.ts DESC" in statement:
            counter["stmt"] = statement

    sa_event.listen(store.read_engine, "after_cursor_execute", after)
    real = events_repo.row_to_dict

    def counting(row):
        counter["rows"] += 1
        return real(row)

    return counter, real, counting


def test_a_rarely_matching_meter_filter_stops_at_the_scan_budget(store, monkeypatch):
    _seed(store, 3000, rare_every=1000)  # 3 gold events among 3,000
    meter = store.create_meter(ENV, {"name": "gold", "event_name": "api.call", "aggregation": {"type": "count"},
                                     "filter": {"conjunction": "and",
                                                "clauses": [{"key": "tier", "operator": "equals", "value": "gold"}]}})
    client = _client(store)
    monkeypatch.setattr(events_repo, "SCAN_BUDGET", 500)
    counter, real, counting = _rows_fetched(store)
    monkeypatch.setattr(events_repo, "row_to_dict", counting)
    r = client.get("/v1/events", params={"meter_id": meter.id, "limit": 10})
    assert r.status_code == 422, r.text  # the old code scanned all 3,000 events and answered 200
    err = r.json()
    assert err["field"] == "meter_id"
    assert "scan budget: 500 events per page" in err["message"] and "from/to" in err["message"]
    assert counter["rows"] <= 500  # the work stopped at the bound
    assert "LIMIT" in counter["stmt"].upper()  # and the database was asked for no more than the bound (+1)

    # narrowed to a range the budget covers, the listing is exact
    monkeypatch.setattr(events_repo, "row_to_dict", real)
    ok = client.get("/v1/events", params={"meter_id": meter.id, "from": "2025-03-01T00:00:00Z",
                                          "to": "2025-03-01T00:08:00Z"})
    assert ok.status_code == 200, ok.text
    assert [e["event_id"] for e in ok.json()["data"]] == ["e0"]


def test_a_listing_within_the_budget_is_exact(store):
    _seed(store, 300, rare_every=100)
    meter = store.create_meter(ENV, {"name": "gold", "event_name": "api.call", "aggregation": {"type": "count"},
                                     "filter": {"conjunction": "and",
                                                "clauses": [{"key": "tier", "operator": "equals", "value": "gold"}]}})
    r = _client(store).get("/v1/events", params={"meter_id": meter.id})
    assert r.status_code == 200, r.text
    assert [e["event_id"] for e in r.json()["data"]] == ["e200", "e100", "e0"]
