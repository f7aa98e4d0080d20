"""Stream blueprint: bytes recorded chunk by chunk while the stream runs (seed: not at the end)."""

from __future__ import annotations


import pytest

from meterbase.sdk.blueprints import StreamTracker, ameter_stream, meter_stream, track_stream_bytes

from .conftest import arun

CHUNKS = [b"x" * 300, b"x" * 300, b"x" * 500, b"x" * 1200, b"x" * 10, b"", b"x" * 7]


def sizes(recorder) -> list[int]:
    return [c["metadata"]["bytes"] for c in recorder.calls]


def test_track_stream_bytes_event(recorder):
    track_stream_bytes(recorder, "cus_v", 10485760, metadata={"stream_type": "video"})
    assert recorder.calls == [{"customer_id": "cus_v", "event_name": "stream_consumption",
                               "metadata": {"bytes": 10485760, "stream_type": "video"}}]
    with pytest.raises(ValueError):
        track_stream_bytes(recorder, "cus_v", 1.5)


def test_events_are_recorded_while_the_stream_runs(recorder):
    out = []
    for chunk in meter_stream(iter(CHUNKS), recorder, "cus_v", every_bytes=1000, metadata={"quality": "hd"}):
        out.append(chunk)
        if len(out) == 4:  # mid-stream: 1100 and 1200 bytes are already recorded
            assert sizes(recorder) == [1100, 1200]
    assert out == CHUNKS  # chunks pass through untouched
    assert sizes(recorder) == [1100, 1200, 17]  # + the remainder at the end
    assert all(c["metadata"]["quality"] == "hd" for c in recorder.calls)


def test_one_event_per_chunk_and_text_chunks(recorder):
    list(meter_stream(["héllo", b"abc", memoryview(b"12345678")], recorder, "cus_v", every_bytes=0))
    assert sizes(recorder) == [6, 3, 8]


def test_early_close_and_failure_still_record_what_went_through(recorder):
    gen = meter_stream(iter(CHUNKS), recorder, "cus_v", every_bytes=10_000)
    next(gen), next(gen)
    gen.close()  # the client went away
    assert sizes(recorder) == [600]

    def broken():
        yield b"x" * 40
        raise ConnectionError("upstream died")
    recorder.calls.clear()
    with pytest.raises(ConnectionError):
        list(meter_stream(broken(), recorder, "cus_v"))
    assert sizes(recorder) == [40]


def test_time_based_chunks(recorder):
    now = [0.0]
    tracker = StreamTracker(recorder, "cus_v", every_bytes=10**9, every_seconds=5, clock=lambda: now[0])
    for t, n in [(1, 100), (4, 100), (6, 100), (7, 100), (12, 100)]:
        now[0] = t
        tracker.add(n)
    tracker.finish()
    tracker.finish()
    assert sizes(recorder) == [300, 200]


def test_async_stream(recorder):
    async def source():
        for c in CHUNKS:
            yield c

    async def main():
        return [c async for c in ameter_stream(source(), recorder, "cus_v", every_bytes=1000)]

    assert arun(main()) == CHUNKS
    assert sizes(recorder) == [1100, 1200, 17]


def test_stream_events_and_meter_end_to_end(server, meters):
    chunk = b"\0" * 65536
    with server.ingestion() as ing:
        for _ in meter_stream((chunk for _ in range(40)), ing, "cus_stream", every_bytes=1 << 20,
                              metadata={"stream_type": "video", "session_id": "s1"}):
            pass
        track_stream_bytes(ing, "cus_stream", 123, metadata={"stream_type": "audio"})
    events = server.events("cus_stream")
    assert all(e["event_name"] == "stream_consumption" for e in events)
    assert sorted(e["metadata"]["bytes"] for e in events) == [123, 40 * 65536 - 2 * (1 << 20), 1 << 20, 1 << 20]
    assert {e["metadata"]["stream_type"] for e in events} == {"video", "audio"}
    assert server.usage(meters["Stream bytes"], "cus_stream") == 40 * 65536 + 123
