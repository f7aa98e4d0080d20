"""Event validation: batch limits, required/unknown fields, metadata rules and timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meterbase.errors import ValidationError
from meterbase.events.model import MAX_BATCH, MAX_ID_LEN, MAX_KEY_LEN, MAX_METADATA_KEYS, MAX_STRING_VALUE_LEN
from meterbase.events.validate import MIN_TS_US, validate_batch, validate_event

UTC = timezone.utc
NOW = int(datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp()) * 1_000_000
SEC = 1_000_000


def ev(i=0, **over):
    e = {"event_id": f"e{i}", "customer_id": "cus_1", "event_name": "api_call"}
    e.update(over)
    return e


def invalid(raw, field, now=NOW):
    with pytest.raises(ValidationError) as exc:
        validate_event(raw, now)
    assert exc.value.field == field, exc.value.message
    return exc.value


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------
def test_batch_of_max_size_is_accepted():
    out = validate_batch([ev(i) for i in range(MAX_BATCH)], NOW)
    assert len(out) == MAX_BATCH == 1000
    assert [e.event_id for e in out[:3]] == ["e0", "e1", "e2"]


def test_batch_of_1001_is_rejected():
    with pytest.raises(ValidationError) as exc:
        validate_batch([ev(i) for i in range(1001)], NOW)
    assert exc.value.field == "events"
    assert "1001" in exc.value.message


@pytest.mark.parametrize("raw", [None, {"event_id": "x"}, "events", 5])
def test_batch_must_be_a_list(raw):
    with pytest.raises(ValidationError) as exc:
        validate_batch(raw, NOW)
    assert exc.value.field == "events"


def test_bad_event_reports_its_index():
    batch = [ev(0), ev(1), ev(2, metadata={"k": [1]})]
    with pytest.raises(ValidationError) as exc:
        validate_batch(batch, NOW)
    assert exc.value.field == "events[2].metadata.k"
    with pytest.raises(ValidationError) as exc:
        validate_batch([ev(0), "nope"], NOW)
    assert exc.value.field == "events[1]"


def test_one_bad_event_rejects_whole_batch_nothing_stored(store):
    batch = [ev(0), ev(1), ev(2, customer_id="")]
    with pytest.raises(ValidationError) as exc:
        store.ingest("test_mode", batch)
    assert exc.value.field == "events[2].customer_id"
    assert store.count_events("test_mode") == 0
    assert store.ingest("test_mode", batch[:2]).ingested == 2
    assert store.count_events("test_mode") == 2


def test_empty_batch_is_fine(store):
    assert validate_batch([], NOW) == []
    assert store.ingest("test_mode", []).to_dict()["ingested_count"] == 0


# ---------------------------------------------------------------------------------------------
# Required and unknown fields
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["event_id", "customer_id", "event_name"])
@pytest.mark.parametrize("bad", ["<missing>", None, "", "   ", 7, ["a"]])
def test_required_string_fields(field, bad):
    raw = ev()
    if bad == "<missing>":
        del raw[field]
    else:
        raw[field] = bad
    err = invalid(raw, f"event.{field}")
    assert field in err.message


@pytest.mark.parametrize("field", ["event_id", "customer_id", "event_name"])
def test_id_length_limit(field):
    assert getattr(validate_event(ev(**{field: "x" * MAX_ID_LEN}), NOW), field) == "x" * MAX_ID_LEN
    invalid(ev(**{field: "x" * (MAX_ID_LEN + 1)}), f"event.{field}")


def test_unknown_fields_rejected():
    invalid(ev(amount=5), "event.amount")
    err = invalid(ev(zeta=1, alpha=2), "event.alpha")  # first in sorted order
    assert "alpha" in err.message and "zeta" in err.message
    invalid(ev(properties={"a": 1}), "event.properties")


def test_event_must_be_object():
    invalid(["e0", "cus", "x"], "event")
    invalid(None, "event")


# ---------------------------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------------------------
def test_metadata_scalars_are_accepted_and_preserved():
    meta = {
        "s": "premium",
        "num_str": "1500",
        "dec_str": "0.10",
        "sci": "1e3",
        "i": 42,
        "neg": -7,
        "f": 0.1,
        "b": True,
        "bf": False,
        "empty": "",
        "max_int": 2**63 - 1,
        "min_int": -(2**63 - 1),
    }
    e = validate_event(ev(metadata=meta), NOW)
    assert e.metadata == meta
    # numbers-as-strings stay strings, untouched (no normalisation of "0.10" or "1e3")
    assert e.metadata["num_str"] == "1500" and isinstance(e.metadata["num_str"], str)
    assert e.metadata["dec_str"] == "0.10"
    assert e.metadata["sci"] == "1e3"
    assert e.metadata["b"] is True and type(e.metadata["i"]) is int


def test_metadata_absent_or_null_is_empty():
    assert validate_event(ev(), NOW).metadata == {}
    assert validate_event(ev(metadata=None), NOW).metadata == {}
    assert validate_event(ev(metadata={}), NOW).metadata == {}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"a": 1}, "event.metadata.k"),  # nested object
        ([1, 2], "event.metadata.k"),  # list
        ([], "event.metadata.k"),
        (None, "event.metadata.k"),  # null
        (float("nan"), "event.metadata.k"),
        (float("inf"), "event.metadata.k"),
        (float("-inf"), "event.metadata.k"),
        (2**63, "event.metadata.k"),
        (-(2**63) - 1, "event.metadata.k"),
        (10**30, "event.metadata.k"),
        ("x" * (MAX_STRING_VALUE_LEN + 1), "event.metadata.k"),
    ],
)
def test_bad_metadata_values(value, field):
    invalid(ev(metadata={"ok": 1, "k": value}), field)


def test_huge_numbers_as_strings_are_accepted():
    e = validate_event(ev(metadata={"k": str(10**30)}), NOW)
    assert e.metadata["k"] == str(10**30)


def test_string_value_length_limit_exact():
    assert validate_event(ev(metadata={"k": "x" * MAX_STRING_VALUE_LEN}), NOW).metadata["k"] == "x" * MAX_STRING_VALUE_LEN


@pytest.mark.parametrize("meta", ["tier=premium", ["a"], 5, True])
def test_metadata_must_be_object(meta):
    invalid(ev(metadata=meta), "event.metadata")


def test_metadata_key_rules():
    assert validate_event(ev(metadata={"k" * MAX_KEY_LEN: 1}), NOW).metadata == {"k" * MAX_KEY_LEN: 1}
    invalid(ev(metadata={"k" * (MAX_KEY_LEN + 1): 1}), "event.metadata." + "k" * (MAX_KEY_LEN + 1))
    invalid(ev(metadata={"": 1}), "event.metadata.")
    ok = {f"k{i}": i for i in range(MAX_METADATA_KEYS)}
    assert len(validate_event(ev(metadata=ok), NOW).metadata) == MAX_METADATA_KEYS
    invalid(ev(metadata={**ok, "one_more": 1}), "event.metadata")


def test_lone_surrogate_string_is_a_validation_error():
    with pytest.raises(ValidationError) as exc:
        validate_event(ev(metadata={"k": "\ud800"}), NOW)
    assert exc.value.field == "event.metadata.k"


# ---------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------
def test_missing_timestamp_uses_now():
    assert validate_event(ev(), NOW).ts_us == NOW
    assert validate_event(ev(timestamp=None), NOW).ts_us == NOW


def test_naive_timestamp_is_utc():
    naive = validate_event(ev(timestamp="2025-05-01T10:20:30"), NOW)
    z = validate_event(ev(timestamp="2025-05-01T10:20:30Z"), NOW)
    explicit = validate_event(ev(timestamp="2025-05-01T10:20:30+00:00"), NOW)
    expected = int(datetime(2025, 5, 1, 10, 20, 30, tzinfo=UTC).timestamp()) * SEC
    assert naive.ts_us == z.ts_us == explicit.ts_us == expected


def test_offsets_and_fractions_are_honoured():
    e = validate_event(ev(timestamp="2025-05-01T12:20:30.123456+02:00"), NOW)
    assert e.ts_us == int(datetime(2025, 5, 1, 10, 20, 30, tzinfo=UTC).timestamp()) * SEC + 123456
    e = validate_event(ev(timestamp="2025-05-01t10:20:30.5z"), NOW)
    assert e.ts_us == int(datetime(2025, 5, 1, 10, 20, 30, tzinfo=UTC).timestamp()) * SEC + 500000


def test_future_timestamp_limit():
    def iso(us_):
        return datetime.fromtimestamp(us_ / SEC, UTC).isoformat()

    assert validate_event(ev(timestamp=iso(NOW + 5 * 60 * SEC)), NOW).ts_us == NOW + 5 * 60 * SEC  # exactly at the limit
    invalid(ev(timestamp=iso(NOW + 5 * 60 * SEC + SEC)), "event.timestamp")
    invalid(ev(timestamp="2999-01-01T00:00:00Z"), "event.timestamp")
    invalid(ev(timestamp="9999-12-31T23:59:59Z"), "event.timestamp")
    # a wider allowance is honoured
    assert validate_event(ev(timestamp=iso(NOW + 3600 * SEC)), NOW, max_future=timedelta(hours=2)).ts_us == NOW + 3600 * SEC


def test_past_limit_is_year_2000():
    assert validate_event(ev(timestamp="2000-01-01T00:00:00Z"), NOW).ts_us == MIN_TS_US
    invalid(ev(timestamp="1999-12-31T23:59:59Z"), "event.timestamp")
    invalid(ev(timestamp="1970-01-01T00:00:00Z"), "event.timestamp")


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01T00:00:00Z", "2025-05-01T25:00:00", "", 1717243200, 1.5, True, ["2025"]])
def test_bad_timestamps(bad):
    invalid(ev(timestamp=bad), "event.timestamp")


def test_fingerprint_tells_replay_from_conflict():
    a = validate_event(ev(metadata={"k": 1}, timestamp="2025-05-01T00:00:00Z"), NOW)
    b = validate_event(ev(metadata={"k": 1}, timestamp="2025-05-01T00:00:00+00:00"), NOW)
    c = validate_event(ev(metadata={"k": "1"}, timestamp="2025-05-01T00:00:00Z"), NOW)
    d = validate_event(ev(metadata={"k": 1}, timestamp="2025-05-01T00:00:01Z"), NOW)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint  # 1 and "1" are different content
    assert a.fingerprint != d.fingerprint
    # server-stamped events replay with the same fingerprint even if "now" moved
    assert validate_event(ev(), NOW).fingerprint == validate_event(ev(), NOW + SEC).fingerprint


def test_stored_event_round_trips_metadata_types(store):
    meta = {"num_str": "1500", "dec": "0.10", "i": 3, "f": 2.5, "b": False, "s": "x"}
    res = store.ingest("test_mode", [ev(0, metadata=meta, timestamp="2025-01-01T00:00:00")])
    assert res.ingested == 1
    got = store.get_event("test_mode", "e0")
    assert got["metadata"] == meta
    assert type(got["metadata"]["num_str"]) is str and type(got["metadata"]["i"]) is int
    assert type(got["metadata"]["b"]) is bool and type(got["metadata"]["f"]) is float
    assert got["ts"] == int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * SEC
