"""Issue 19 item 3: a usage query's answer is bounded in cells (rows × windows, a row per customer or
(customer, group)) on every usage surface -- the /v1 route for API keys and portal tokens (``group_by``),
the dashboard's meter page and its JSON, the CLI -- with a 422 naming the bound and its value before the
query runs; ``sparse=true`` omits empty windows. SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meterbase.api import create_app
from meterbase.cli.main import app as cli
from meterbase.config import Settings
from meterbase.sdk.client import Meterbase, MeterbaseAPIError
from meterbase.usage_limits import MAX_USAGE_CELLS, UsageTooLarge, bounded_usage

FROM, TO13, TO14 = "2025-01-01T00:00:00Z", "2025-01-14T00:00:00Z", "2025-01-15T00:00:00Z"


def client(store, token: str, **settings) -> TestClient:
    c = TestClient(create_app(store, Settings(database_url=store.url, **settings)))
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def seed(store, customers: int, per_customer: int = 1, meta=lambda c, i: {}) -> str:
    """``customers`` customers with ``per_customer`` events each, one per hour from 2025-01-01T00:30Z."""
    meter = store.create_meter("test_mode", {"name": "calls", "event_name": "api.call",
                                             "aggregation": {"type": "count"}}).id
    events = [{"event_id": f"e{c}-{i}", "customer_id": f"cus_{c:03d}", "event_name": "api.call",
               "timestamp": f"2025-01-01T{i:02d}:30:00Z", "metadata": meta(c, i)}
              for c in range(customers) for i in range(per_customer)]
    for k in range(0, len(events), 1000):
        store.ingest("test_mode", events[k:k + 1000])
    return meter


def refused(r, cells: str, rows: str, windows: str, limit: str, field: str = "window") -> str:
    assert r.status_code == 422, r.text
    err = r.json()
    assert (err["code"], err["field"]) == ("usage_too_large", field)
    msg = err["message"]
    assert f"would return {cells} cells ({rows}" in msg and f"× {windows} windows" in msg, msg
    assert f"the limit is {limit} (MB_MAX_USAGE_CELLS)" in msg, msg
    return msg


def test_fifty_customers_at_minute_windows_over_two_weeks_is_refused_naming_the_bound(store):
    """The issue's reproduction: 50 customers × 18,720 minute windows = 936,000 cells (a ~70 MB answer)
    against the default bound of 100,000; a row of more than 20,000 windows was already refused."""
    meter = seed(store, 50)
    token, _ = store.create_key("r", "test_mode", read_only=True)
    api = client(store, token)
    r = api.get(f"/v1/meters/{meter}/usage", params={"from": FROM, "to": TO13, "window": "minute"})
    msg = refused(r, "936,000", "50 customers", "18,720", "100,000")
    assert "narrow the range" in msg and "coarser window" in msg and "fewer customers" in msg
    assert MAX_USAGE_CELLS == 100_000 and Settings.from_env().max_usage_cells == 100_000
    fourteen = api.get(f"/v1/meters/{meter}/usage", params={"from": FROM, "to": TO14, "window": "minute"})
    assert fourteen.status_code == 422 and fourteen.json()["field"] == "window"
    assert "too many windows (> 20000)" in fourteen.json()["message"]
    # the same range by hour (50 × 336 = 16,800 cells) is answered, every row with every window
    hourly = api.get(f"/v1/meters/{meter}/usage", params={"from": FROM, "to": TO14, "window": "hour"}).json()
    assert len(hourly["data"]) == 50 and {len(row["windows"]) for row in hourly["data"]} == {336}
    assert hourly["sparse"] is False and sum(int(row["value"]) for row in hourly["data"]) == 50
    # one customer at minute windows is 20,160 cells: answered
    one = api.get(f"/v1/meters/{meter}/usage", params={"from": FROM, "to": TO13, "window": "minute",
                                                        "customer_id": "cus_007"}).json()
    assert len(one["data"]) == 1 and len(one["data"][0]["windows"]) == 18_720 and one["data"][0]["value"] == "1"


def test_the_bound_is_exact_configurable_and_can_be_turned_off(store, monkeypatch):
    meter = seed(store, 5, per_customer=3)
    token, _ = store.create_key("r", "test_mode")
    api = client(store, token, max_usage_cells=100)
    at_limit = {"from": FROM, "to": "2025-01-01T20:00:00Z", "window": "hour"}  # 5 customers × 20 windows = 100
    answer = api.get(f"/v1/meters/{meter}/usage", params=at_limit)
    assert answer.status_code == 200 and len(answer.json()["data"]) == 5
    over = {**at_limit, "to": "2025-01-01T21:00:00Z"}  # × 21 windows = 105
    refused(api.get(f"/v1/meters/{meter}/usage", params=over), "105", "5 customers", "21", "100")
    # customers without usage in the range are not rows and do not count: 10 hours later nobody has usage
    late = {"from": "2025-01-02T00:00:00Z", "to": "2025-01-05T00:00:00Z", "window": "hour"}  # 72 windows, 0 rows
    assert api.get(f"/v1/meters/{meter}/usage", params=late).json()["data"] == []
    unbounded = client(store, token, max_usage_cells=0)
    assert unbounded.get(f"/v1/meters/{meter}/usage", params=over).status_code == 200
    monkeypatch.setenv("MB_MAX_USAGE_CELLS", "42")
    assert Settings.from_env().max_usage_cells == 42
    with pytest.raises(UsageTooLarge) as exc:  # the use case itself, as the CLI and dashboard call it
        bounded_usage(store, "test_mode", meter, 1735689600_000000, 1735761600_000000, "hour", max_cells=42)
    assert (exc.value.cells, exc.value.rows, exc.value.windows, exc.value.limit) == (100, 5, 20, 42)


def test_a_portal_token_cannot_reach_the_bound_through_group_by(store):
    """One customer, 60 distinct request ids: group_by makes 60 rows; the bound counts them (stopping early)."""
    meter = seed(store, 1, per_customer=1)
    store.ingest("test_mode", [{"event_id": f"g{i}", "customer_id": "cus_000", "event_name": "api.call",
                                "timestamp": "2025-01-01T01:15:00Z", "metadata": {"req": f"r{i:02d}", "zone": "a"}}
                               for i in range(60)])
    admin_token, _ = store.create_key("rw", "test_mode")
    admin = client(store, admin_token, max_usage_cells=100)
    portal = admin.post("/v1/portal-tokens", json={"customer_id": "cus_000"}).json()["token"]
    as_portal = client(store, portal, max_usage_cells=100)
    params = {"from": FROM, "to": "2025-01-01T02:00:00Z", "window": "hour", "group_by": "req"}  # 61 groups × 2
    msg = refused(as_portal.get(f"/v1/meters/{meter}/usage", params=params), "at least 102",
                  "at least 51 (customer, group) rows", "2", "100", field="group_by")
    assert "group keys" in msg
    few = as_portal.get(f"/v1/meters/{meter}/usage", params={**params, "group_by": "zone"}).json()
    assert [(row["group"], row["value"]) for row in few["data"]] == [({"zone": None}, "1"), ({"zone": "a"}, "60")]
    assert all(row["customer_id"] == "cus_000" for row in few["data"])


def test_sparse_answers_omit_empty_windows_and_keep_the_totals(store):
    meter = seed(store, 3, per_customer=2)  # events at 00:30 and 01:30 for each customer
    token, _ = store.create_key("r", "test_mode")
    api = client(store, token)
    params = {"from": FROM, "to": TO13, "window": "minute"}
    dense = api.get(f"/v1/meters/{meter}/usage", params=params).json()
    sparse = api.get(f"/v1/meters/{meter}/usage", params={**params, "sparse": "true"}).json()
    assert sparse["sparse"] is True and dense["sparse"] is False
    assert [len(row["windows"]) for row in dense["data"]] == [18_720] * 3
    for d, s in zip(dense["data"], sparse["data"]):
        assert (s["customer_id"], s["value"], s["events"], s["rejected"]) == (d["customer_id"], "2", 2, 0) == \
               (d["customer_id"], d["value"], d["events"], d["rejected"])
        assert s["windows"] == [w for w in d["windows"] if w["value"] != "0"]
        assert [w["start"] for w in s["windows"]] == ["2025-01-01T00:30:00Z", "2025-01-01T01:30:00Z"]
    assert len(str(sparse)) * 1000 < len(str(dense))
    sdk = Meterbase(token, "http://testserver", transport=api._transport)  # the Python SDK asks the same
    assert sdk.usage(meter, start=FROM, end=TO13, window="minute", sparse=True) == sparse
    with pytest.raises(MeterbaseAPIError) as exc:
        sdk.usage(meter, start=FROM, end=TO13, window="minute")  # 3 × 18,720 = 56,160 cells: allowed by default
        Meterbase(token, "http://testserver", transport=client(store, token, max_usage_cells=50_000)._transport) \
            .usage(meter, start=FROM, end=TO13, window="minute", sparse=True)
    assert exc.value.status == 422 and exc.value.body["code"] == "usage_too_large" and exc.value.field == "window"


def test_dashboard_and_cli_are_bounded_too(store, monkeypatch):
    monkeypatch.setenv("MB_SECRET_KEY", "usage-bounds-test-secret-" + "x" * 32)
    meter = seed(store, 50)
    token, _ = store.create_key("ui", "test_mode")
    browser = TestClient(create_app(store, Settings(database_url=store.url)))
    assert browser.post("/ui/login", data={"api_key": token, "next": "/ui"}, follow_redirects=False).status_code == 303
    params = {"from": FROM, "to": TO13, "window": "minute"}
    refused(browser.get(f"/ui/api/meters/{meter}/usage", params=params), "936,000", "50 customers", "18,720",
            "100,000")
    page = browser.get(f"/ui/meters/{meter}", params=params)
    assert page.status_code == 200 and "936,000 cells" in page.text and "MB_MAX_USAGE_CELLS" in page.text

    r = CliRunner().invoke(cli, ["usage", meter, "--from", FROM, "--to", TO13, "--window", "minute",
                                 "--db", store.url])
    assert r.exit_code == 2 and "936,000 cells" in r.output and "MB_MAX_USAGE_CELLS" in r.output, r.output
    ok = CliRunner().invoke(cli, ["usage", meter, "--from", FROM, "--to", "2025-01-01T03:00:00Z", "--window",
                                  "minute", "--customer", "cus_001", "--windows", "--sparse", "--db", store.url])
    assert ok.exit_code == 0, ok.output
    assert "2025-01-01T00:30:00Z" in ok.output and ok.output.count("→") == 1  # one window of 180 printed
