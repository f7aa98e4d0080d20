"""``validate_batch``'s one-pass fast path agrees with the field-by-field ``validate_event`` on any input:
the same Event (fingerprint included) or, when the event is invalid, the field-precise error of the slow path."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from meterbase.errors import ValidationError
from meterbase.events.validate import validate_batch, validate_event

NOW = 1_740_830_400_000_000  # 2025-03-01T12:00Z

text = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "a\x00", "\ud800", "x" * 300, "ok", "c1"]))
scalar = st.one_of(text, st.integers(min_value=-2**70, max_value=2**70), st.booleans(),
                   st.floats(allow_nan=True, allow_infinity=True), st.none(), st.lists(st.integers(), max_size=2))
stamp = st.one_of(st.none(), st.sampled_from(["2025-03-01T11:00:00Z", "2025-03-01T11:00:00.5+02:00", "1999-01-01T00:00:00Z",
                                              "2030-01-01T00:00:00Z", "not a time", "2025-03-01",
                                              "2025-03-01T11:00:00.123456Z", "2025-03-01 11:00:00Z", "2025-03-01T11:00:00z",
                                              "Z", "2025-03-01T11:00:00+00:00", "2025-03-01T11:00:00", "20250301T110000Z",
                                              "2025-03-01T11:00:00-00:30Z"]), st.integers())
event = st.fixed_dictionaries(
    {"event_id": text, "customer_id": text, "event_name": text},
    optional={"timestamp": stamp, "metadata": st.one_of(st.none(), st.dictionaries(text, scalar, max_size=4), st.just([])),
              "extra": st.just(1)},
)


def _outcome(fn):
    try:
        return fn()
    except ValidationError as exc:
        return ("error", str(exc), exc.field)


@settings(max_examples=400, deadline=None)
@given(raw=event)
def test_fast_path_agrees_with_the_field_checks(raw):
    fast = _outcome(lambda: validate_batch([raw], NOW)[0])
    slow = _outcome(lambda: validate_event(raw, NOW, "events[0]"))
    assert fast == slow
