"""Hostile input through HTTP: each case gets a clear 4xx ``{code, message, field}`` and stores nothing.

Every ingest case sends a valid event *first* in the same request, so "nothing stored" also proves the
whole batch is rejected, not just the bad event. Runs on SQLite and PostgreSQL (PostgreSQL is the stricter
store: NUL characters, lone surrogates and out-of-range integers are errors there, not data).
"""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

LIMIT = 256_000
JSON = {"Content-Type": "application/json"}
GOOD = {"event_id": "good", "customer_id": "cus_a", "event_name": "api.call", "timestamp": "2025-01-21T10:30:00Z",
        "metadata": {"tokens": "10"}}


@pytest.fixture()
def api(store):
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url, max_body_bytes=LIMIT))
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    client.store = store
    return client


def raw_batch(bad_event_json: bytes) -> bytes:
    """``{"events": [GOOD, <bad>]}`` with the bad event spliced in as raw bytes (not valid for json.dumps)."""
    return b'{"events": [' + orjson.dumps(GOOD) + b", " + bad_event_json + b"]}"


def ev(**kw) -> bytes:
    """A batch of GOOD and a bad event (GOOD's fields with ``kw`` changed)."""
    return raw_batch(orjson.dumps({**GOOD, "event_id": "bad", **kw}))


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


CASES = [
    # name, request body, expected status, expected code, expected field (None: not checked)
    ("nested metadata object", ev(metadata={"a": {"b": 1}}), 422, "validation_error", "events[1].metadata.a"),
    ("metadata nested 30 deep", ev(metadata=nested(30)), 422, "validation_error", "events[1].metadata.k"),
    ("JSON nested 5000 deep", b"{\"events\": [" + b"[" * 5000 + b"]" * 5000 + b"]}", 400, "invalid_json", "body"),
    ("metadata list value", ev(metadata={"a": [1, 2]}), 422, "validation_error", "events[1].metadata.a"),
    ("metadata null value", ev(metadata={"a": None}), 422, "validation_error", "events[1].metadata.a"),
    ("101 metadata keys", ev(metadata={f"k{i}": i for i in range(101)}), 422, "validation_error", "events[1].metadata"),
    ("metadata key of 129 chars", ev(metadata={"k" * 129: 1}), 422, "validation_error", None),
    ("metadata string of 4097 chars", ev(metadata={"s": "x" * 4097}), 422, "validation_error", "events[1].metadata.s"),
    ("NaN", raw_batch(b'{"event_id": "bad", "customer_id": "c", "event_name": "n", "metadata": {"v": NaN}}'),
     400, "invalid_json", "body"),
    ("Infinity", raw_batch(b'{"event_id": "bad", "customer_id": "c", "event_name": "n", "metadata": {"v": Infinity}}'),
     400, "invalid_json", "body"),
    ("-Infinity", raw_batch(b'{"event_id": "bad", "customer_id": "c", "event_name": "n", "metadata": {"v": -Infinity}}'),
     400, "invalid_json", "body"),
    ("1e400", raw_batch(b'{"event_id": "bad", "customer_id": "c", "event_name": "n", "metadata": {"v": 1e400}}'),
     400, "invalid_json", "body"),
    ("10^400 integer", raw_batch(b'{"event_id": "bad", "customer_id": "c", "event_name": "n", "metadata": {"v": 1'
                                 + b"0" * 400 + b"}}"), 400, "invalid_json", "body"),
    ("integer beyond int64", ev(metadata={"v": 2**63}), 422, "validation_error", "events[1].metadata.v"),
    ("non-UTF-8 bytes", raw_batch(b'{"event_id": "bad\xff\xfe", "customer_id": "c", "event_name": "n"}'),
     400, "invalid_json", "body"),
    ("lone surrogate", raw_batch(b'{"event_id": "bad\\ud800", "customer_id": "c", "event_name": "n"}'),
     400, "invalid_json", "body"),
    ("NUL in event_id", ev(event_id="bad\x00"), 422, "validation_error", "events[1].event_id"),
    ("NUL in metadata value", ev(metadata={"v": "a\x00b"}), 422, "validation_error", "events[1].metadata.v"),
    ("timestamp year 1", ev(timestamp="0001-01-01T00:00:00Z"), 422, "validation_error", "events[1].timestamp"),
    ("timestamp before 2000", ev(timestamp="1999-12-31T23:59:59Z"), 422, "validation_error", "events[1].timestamp"),
    ("timestamp year 9999", ev(timestamp="9999-12-31T23:59:59Z"), 422, "validation_error", "events[1].timestamp"),
    ("timestamp past year 9999 in UTC", ev(timestamp="9999-12-31T23:59:59-14:00"), 422, "validation_error",
     "events[1].timestamp"),
    ("timestamp year 10000", ev(timestamp="10000-01-01T00:00:00Z"), 422, "validation_error", "events[1].timestamp"),
    ("timestamp 10 minutes ahead", ev(timestamp="2999-01-01T00:00:00Z"), 422, "validation_error", "events[1].timestamp"),
    ("timestamp as a number", ev(timestamp=1_700_000_000), 422, "validation_error", "events[1].timestamp"),
    ("timestamp month 13", ev(timestamp="2025-13-01T00:00:00Z"), 422, "validation_error", "events[1].timestamp"),
    ("unknown event field", ev(colour="red"), 422, "validation_error", "events[1].colour"),
    ("event_id of 256 chars", ev(event_id="x" * 256), 422, "validation_error", "events[1].event_id"),
    ("blank customer_id", ev(customer_id="  "), 422, "validation_error", "events[1].customer_id"),
    ("event that is a list", raw_batch(b"[1, 2]"), 422, "validation_error", "events[1]"),
]


@pytest.mark.parametrize("name, body, status, code, field", CASES, ids=[c[0] for c in CASES])
def test_hostile_event_rejected_and_nothing_stored(api, name, body, status, code, field):
    r = api.post("/v1/events/ingest", content=body, headers=JSON)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["code"] == code and err["message"], err
    if field is not None:
        assert err["field"] == field, err
    assert api.store.count_events("test_mode") == 0
    assert api.get("/v1/events/good").status_code == 404


@pytest.mark.parametrize("body, status, field", [
    (b'{"events": [], "extra": 1}', 422, "extra"),  # unknown top-level field
    (b'{"events": "nope"}', 422, "events"),
    (b'{"events": null}', 422, "events"),
    (b"[]", 422, "events"),
    (b'"events"', 422, "events"),
    (b"", 422, "body"),
    (b"   ", 422, "body"),
    (b"{nope", 400, "body"),
])
def test_malformed_bodies(api, body, status, field):
    r = api.post("/v1/events/ingest", content=body, headers=JSON)
    assert (r.status_code, r.json()["field"]) == (status, field), r.text
    assert api.store.count_events("test_mode") == 0


def test_1001_events_are_refused_whole_and_1000_accepted(api):
    batch = [{**GOOD, "event_id": f"e{i}"} for i in range(1001)]
    r = api.post("/v1/events/ingest", json={"events": batch})
    assert r.status_code == 422 and r.json()["field"] == "events" and "1000" in r.json()["message"]
    assert api.store.count_events("test_mode") == 0
    assert api.post("/v1/events/ingest", json={"events": batch[:1000]}).json()["ingested_count"] == 1000


def test_body_size_limit_declared_and_streamed(api):
    big = orjson.dumps({"events": [{**GOOD, "event_id": f"e{i}", "metadata": {"blob": "x" * 4000}} for i in range(80)]})
    assert len(big) > LIMIT
    r = api.post("/v1/events/ingest", content=big, headers=JSON)  # Content-Length says it all
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 16_384):
            yield big[i:i + 16_384]

    r = api.post("/v1/events/ingest", content=chunks(), headers=JSON)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert api.store.count_events("test_mode") == 0


def test_hostile_query_strings_and_paths_are_4xx(api):
    mid = api.post("/v1/meters", json={"name": "c", "event_name": "api.call", "aggregation": {"type": "count"}}).json()["id"]
    for path in [
        "/v1/events?customer_id=%00",  # NUL: PostgreSQL cannot compare it, so nobody accepts it
        "/v1/events/a%00b",
        "/v1/events?from=10000-01-01",
        "/v1/events?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6MQ==",  # forged cursor beyond BIGINT
        "/v1/meters?offset=99999999999999999999",
        "/events?page_number=99999999999999999999",
        "/v1/invoices?offset=9223372036854775808",
        f"/v1/meters/{mid}/usage?from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z&tz=America/New_York",
        f"/v1/meters/{mid}/usage?from=9999-12-30T00:00:00Z&to=9999-12-31T23:59:59Z&window=month",
        f"/v1/meters/{mid}/usage?from=9999-12-30T00:00:00Z&to=9999-12-31T23:59:59Z&tz=Pacific/Kiritimati",
        "/v1/policy/versions/99999999999999999999",
    ]:
        r = api.get(path)
        assert 400 <= r.status_code < 500 and r.json()["code"] and r.json()["message"], (path, r.status_code, r.text)


def test_hostile_meter_definitions_are_4xx_and_store_nothing(api):
    base = {"name": "m", "event_name": "api.call", "aggregation": {"type": "sum", "key": "tokens"}}
    bodies = [
        # NaN / Infinity reach a route parsed by FastAPI (its JSON parser accepts them): the core refuses
        b'{"name": "m", "event_name": "e", "aggregation": {"type": "count"},'
        b' "filter": {"clauses": [{"key": "a", "operator": "equals", "value": NaN}]}}',
        b'{"name": "m", "event_name": "e", "aggregation": {"type": "count"},'
        b' "filter": {"clauses": [{"key": "a", "operator": "in", "value": [1, Infinity]}]}}',
        b'{"name": "m\\ud800", "event_name": "e", "aggregation": {"type": "count"}}',
        orjson.dumps({**base, "name": "bad\x00"}),
        orjson.dumps({**base, "aggregation": {"type": "sum", "key": "k" * 256}}),
        orjson.dumps({**base, "colour": "red"}),
        b"\xff\xfe",
    ]
    for body in bodies:
        r = api.post("/v1/meters", content=body, headers=JSON)
        assert 400 <= r.status_code < 500 and r.json()["code"], (body[:80], r.status_code, r.text)
    assert api.get("/v1/meters").json()["data"] == []
    mid = api.post("/v1/meters", json=base).json()["id"]
    for change in ({"name": ""}, {"measurement_unit": " "}, {"name": "x" * 256}, {"name": "a\x00"}, {"colour": "red"}):
        r = api.patch(f"/v1/meters/{mid}", json=change)
        assert r.status_code == 422, (change, r.text)
    kept = api.patch(f"/v1/meters/{mid}", json={"name": None, "measurement_unit": None})  # null: unchanged
    assert kept.status_code == 200 and (kept.json()["name"], kept.json()["measurement_unit"]) == ("m", "units")


def test_hostile_bodies_on_other_json_routes_are_4xx(api):
    for method, path, body, ctype in [
        ("PUT", "/v1/policy", b"policy:\n  plans: {}\n\x00", "application/yaml"),
        ("PUT", "/v1/policy", b"\xff\xfe", "application/yaml"),
        ("POST", "/v1/customers", b'{"id": "c\\u0000", "email": "a@example.com", "name": "A"}', "application/json"),
        ("POST", "/v1/customers", b'{"id": "c", "email": "a@example.com", "name": NaN}', "application/json"),
        ("POST", "/v1/policy/customers", b'{"customer_id": "c\\u0000"}', "application/json"),
        ("POST", "/v1/portal-tokens", b'{"customer_id": "c\\u0000"}', "application/json"),
        ("POST", "/v1/portal-tokens", b'{"customer_id": "c", "scope": "all"}', "application/json"),
    ]:
        r = api.request(method, path, content=body, headers={"Content-Type": ctype})
        assert 400 <= r.status_code < 500 and r.json()["code"], (path, body, r.status_code, r.text)
    assert api.get("/v1/customers").json()["data"] == [] and api.get("/v1/portal-tokens").json()["data"] == []
