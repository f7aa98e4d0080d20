"""The official ``dodopayments`` Python SDK, unchanged, against a live meterbase server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import dodopayments
import pytest
from dodopayments import DodoPayments

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY_AGO = NOW - timedelta(days=1)


@pytest.fixture(scope="module")
def sdk(live_server) -> DodoPayments:
    return DodoPayments(bearer_token=live_server.test_key, base_url=live_server.url, max_retries=0,
                        _strict_response_validation=True)


def usage_value(live_server, meter_id: str, customer_id: str | None = None, key: str | None = None) -> list[dict]:
    params = {"from": (DAY_AGO - timedelta(days=1)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat(), "window": "day"}
    if customer_id:
        params["customer_id"] = customer_id
    with live_server.client(key) as c:
        r = c.get(f"/v1/meters/{meter_id}/usage", params=params)
        assert r.status_code == 200, r.text
        return r.json()["data"]


def api_calls(n: int, prefix: str, customer: str = "cus_sdk") -> list[dict]:
    return [
        {"event_id": f"{prefix}_{i}", "customer_id": customer, "event_name": "api.call",
         "timestamp": DAY_AGO + timedelta(seconds=i), "metadata": {"endpoint": "/v1/users", "method": "GET"}}
        for i in range(n)
    ]


def test_ingest_2500_calls_and_count_meter(sdk, live_server):
    meter = sdk.meters.create(name="API Requests", event_name="api.call", measurement_unit="calls",
                              aggregation={"type": "count"})
    events = api_calls(2500, "call")
    counts = [sdk.usage_events.ingest(events=events[i:i + 1000]).ingested_count for i in range(0, 2500, 1000)]
    assert counts == [1000, 1000, 500]
    [row] = usage_value(live_server, meter.id, "cus_sdk")
    assert Decimal(row["value"]) == 2500
    # the seed's acceptance case rides on this count: (2,500 − 1,000 free) × $0.02 = $30.00
    assert (Decimal(row["value"]) - 1000) * Decimal("0.02") == Decimal("30.00")

    # replaying a whole batch is idempotent: nothing new, nothing double counted
    assert sdk.usage_events.ingest(events=events[:1000]).ingested_count == 0
    [row] = usage_value(live_server, meter.id, "cus_sdk")
    assert Decimal(row["value"]) == 2500


def test_sum_meter_over_tokens_sent_as_strings(sdk, live_server):
    meter = sdk.meters.create(name="Tokens", event_name="ai.tokens", measurement_unit="tokens",
                              aggregation={"type": "sum", "key": "tokens"})
    tokens = ["1500", "2500", "0.1", "0.2", "12345678901234567890", "7"]
    sdk.usage_events.ingest(events=[
        {"event_id": f"tok_{i}", "customer_id": "cus_tok", "event_name": "ai.tokens", "timestamp": DAY_AGO,
         "metadata": {"tokens": t, "model": "gpt-4"}} for i, t in enumerate(tokens)
    ])
    [row] = usage_value(live_server, meter.id, "cus_tok")
    assert Decimal(row["value"]) == sum(Decimal(t) for t in tokens)  # exact, no float anywhere
    assert row["value"] == "12345678901234571897.3"  # 12345678901234567890 + 4007.3


def test_filtered_meters_honour_and_and_or(sdk, live_server):
    combos = [("premium", "success"), ("premium", "error"), ("free", "success"), ("free", "error"), ("trial", "success")]
    events = []
    for i, (tier, status) in enumerate(combos):
        for j in range(i + 1):  # 1, 2, 3, 4, 5 events per combination
            events.append({"event_id": f"flt_{i}_{j}", "customer_id": "cus_flt", "event_name": "req",
                           "timestamp": DAY_AGO, "metadata": {"tier": tier, "status": status}})
    sdk.usage_events.ingest(events=events)
    both = sdk.meters.create(
        name="premium ok", event_name="req", measurement_unit="calls", aggregation={"type": "count"},
        filter={"conjunction": "and", "clauses": [{"key": "tier", "operator": "equals", "value": "premium"},
                                                  {"key": "status", "operator": "equals", "value": "success"}]})
    either = sdk.meters.create(
        name="premium or error", event_name="req", measurement_unit="calls", aggregation={"type": "count"},
        filter={"conjunction": "or", "clauses": [{"key": "tier", "operator": "equals", "value": "premium"},
                                                 {"key": "status", "operator": "equals", "value": "error"}]})
    nested = sdk.meters.create(
        name="(free or trial) and success", event_name="req", measurement_unit="calls", aggregation={"type": "count"},
        filter={"conjunction": "and", "clauses": [
            {"conjunction": "or", "clauses": [{"key": "tier", "operator": "equals", "value": "free"},
                                              {"key": "tier", "operator": "equals", "value": "trial"}]},
            {"conjunction": "and", "clauses": [{"key": "status", "operator": "equals", "value": "success"}]}]})
    assert Decimal(usage_value(live_server, both.id)[0]["value"]) == 1
    assert Decimal(usage_value(live_server, either.id)[0]["value"]) == 1 + 2 + 4
    assert Decimal(usage_value(live_server, nested.id)[0]["value"]) == 3 + 5
    listed = sdk.usage_events.list(meter_id=both.id, page_size=100).items
    assert [e.metadata["status"] for e in listed] == ["success"]


def test_batch_of_1001_is_rejected_whole(sdk, live_server):
    with live_server.client() as c:
        before = c.get("/v1/events", params={"customer_id": "cus_big", "limit": 10}).json()["data"]
    with pytest.raises(dodopayments.UnprocessableEntityError) as exc:
        sdk.usage_events.ingest(events=api_calls(1001, "big", "cus_big"))
    assert "at most 1000" in exc.value.body["message"]
    assert exc.value.body["field"] == "events"
    with live_server.client() as c:
        assert c.get("/v1/events", params={"customer_id": "cus_big"}).json()["data"] == before == []


def test_retrieve_list_archive_unarchive(sdk, live_server):
    sdk.usage_events.ingest(events=[{"event_id": "one", "customer_id": "cus_one", "event_name": "ping",
                                     "metadata": {"flag": True, "n": 3}}])
    ev = sdk.usage_events.retrieve("one")
    assert (ev.customer_id, ev.event_name, ev.metadata) == ("cus_one", "ping", {"flag": True, "n": 3})
    assert ev.timestamp.tzinfo is not None
    with pytest.raises(dodopayments.NotFoundError):
        sdk.usage_events.retrieve("missing")

    page = sdk.usage_events.list(customer_id="cus_sdk", page_number=0, page_size=100).items
    assert len(page) == 100 and all(e.customer_id == "cus_sdk" for e in page)
    assert sdk.usage_events.list(customer_id="cus_sdk", page_number=25, page_size=100).items == []

    meter = sdk.meters.create(name="pings", event_name="ping", measurement_unit="pings", aggregation={"type": "count"})
    assert sdk.meters.retrieve(meter.id).aggregation.type == "count"
    assert sdk.meters.archive(meter.id) is None
    assert meter.id not in {m.id for m in sdk.meters.list(page_size=100).items}
    assert meter.id in {m.id for m in sdk.meters.list(archived=True, page_size=100).items}
    sdk.meters.unarchive(meter.id)
    assert meter.id in {m.id for m in sdk.meters.list(page_size=100).items}
    with pytest.raises(dodopayments.NotFoundError):
        sdk.meters.retrieve("mtr_nope")


def test_modes_are_separate(sdk, live_server):
    live = DodoPayments(bearer_token=live_server.live_key, base_url=live_server.url, max_retries=0)
    assert live.usage_events.list(page_size=100).items == []
    live.usage_events.ingest(events=[{"event_id": "one", "customer_id": "cus_live", "event_name": "ping"}])
    # same event_id in the other mode is a different event
    assert live.usage_events.retrieve("one").customer_id == "cus_live"
    assert sdk.usage_events.retrieve("one").customer_id == "cus_one"


def test_bad_key_is_401(live_server):
    bad = DodoPayments(bearer_token="mb_test_nope", base_url=live_server.url, max_retries=0)
    with pytest.raises(dodopayments.AuthenticationError):
        bad.meters.list()
