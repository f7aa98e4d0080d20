"""Time Range blueprint: durationMs / durationSeconds / durationMinutes, measure_time."""

from __future__ import annotations

import asyncio
import re

import pytest

from meterbase.sdk.blueprints import measure_time, track_time_range

from .conftest import arun, bag, ns_clock


def metas(recorder) -> list[dict]:
    return [c["metadata"] for c in recorder.calls]


def test_track_time_range_event_shapes(recorder):
    track_time_range(recorder, "cus_t", duration_ms=1500, metadata={"function_name": "image-processor"})
    track_time_range(recorder, "cus_t", duration_seconds=120)
    track_time_range(recorder, "cus_t", duration_minutes=60, metadata={"vm": "n2-standard-4"})
    track_time_range(recorder, "cus_t", duration_ms=250, duration_seconds=0.25)
    assert {c["event_name"] for c in recorder.calls} == {"time_range_usage"}
    assert metas(recorder) == [
        {"durationMs": 1500, "function_name": "image-processor"},
        {"durationSeconds": 120},
        {"durationMinutes": 60, "vm": "n2-standard-4"},
        {"durationMs": 250, "durationSeconds": 0.25},
    ]
    with pytest.raises(ValueError):
        track_time_range(recorder, "cus_t")
    with pytest.raises(ValueError):
        track_time_range(recorder, "cus_t", duration_ms=-1)


def test_measure_time_context_manager_records_on_success_and_on_error(recorder):
    clock = ns_clock(1_234_567_891)  # each block takes 1.234567891 s on this clock
    with measure_time(recorder, "cus_t", metadata={"job": "export"}, clock=clock) as timer:
        pass
    assert timer.elapsed_ns == 1_234_567_891 and timer.event_id == "evt_1"
    with pytest.raises(KeyError):
        with measure_time(recorder, "cus_t", unit="seconds", clock=clock):
            raise KeyError("boom")  # still recorded, and the exception propagates
    with measure_time(recorder, "cus_t", unit="minutes", clock=clock):
        pass
    assert metas(recorder) == [
        {"durationMs": 1234.568, "job": "export"},
        {"durationSeconds": 1.234568, "error": "KeyError"},
        {"durationMinutes": 0.020576},
    ]


def test_measure_time_decorator_sync_and_async(recorder):
    clock = ns_clock(2_000_000)

    @measure_time(recorder, lambda user, *a, **kw: user["customer"], clock=clock)
    def render(user, pages):
        return pages * 2

    @measure_time(recorder, "cus_async", unit="seconds", clock=clock)
    async def transcode():
        await asyncio.sleep(0)
        return "done"

    assert render({"customer": "cus_a"}, 3) == 6 and render({"customer": "cus_b"}, 1) == 2
    assert arun(transcode()) == "done"
    assert [(c["customer_id"], c["metadata"]) for c in recorder.calls] == [
        ("cus_a", {"durationMs": 2}), ("cus_b", {"durationMs": 2}), ("cus_async", {"durationSeconds": 0.002})]
    with pytest.raises(TypeError):
        with measure_time(recorder, lambda: "x"):
            pass


def test_real_monotonic_clock(recorder):
    import time
    with measure_time(recorder, "cus_t"):
        time.sleep(0.02)
    assert 20 <= recorder.calls[0]["metadata"]["durationMs"] < 2000


def test_time_range_events_and_meters_end_to_end(server, meters):
    clock = ns_clock(90_000_000_000)  # 90 s per measured block
    with server.ingestion("time_range_usage") as ing:
        track_time_range(ing, "cus_time", duration_ms=1500, metadata={"function_name": "resize"})
        track_time_range(ing, "cus_time", duration_seconds=120)
        track_time_range(ing, "cus_time", duration_minutes=60)
        with measure_time(ing, "cus_time", clock=clock):
            pass
        with pytest.raises(RuntimeError):
            with measure_time(ing, "cus_time", unit="seconds", clock=clock):
                raise RuntimeError("crashed mid-run")
        with measure_time(ing, "cus_time", unit="minutes", clock=clock):
            pass
    events = server.events("cus_time")
    assert all(re.match(r"^time_range_usage_\d{13}_[0-9a-f]{12}$", e["event_id"]) for e in events)
    assert bag(e["metadata"] for e in events) == bag([
        {"durationMs": 1500, "function_name": "resize"}, {"durationSeconds": 120}, {"durationMinutes": 60},
        {"durationMs": 90000}, {"durationSeconds": 90, "error": "RuntimeError"}, {"durationMinutes": 1.5}])
    assert server.usage(meters["Compute time"], "cus_time") == 1500 + 90000
    assert server.usage(meters["Compute time (seconds)"], "cus_time") == 120 + 90
    assert str(server.usage(meters["Compute time (minutes)"], "cus_time")) == "61.5"
