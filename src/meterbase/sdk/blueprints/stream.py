"""Stream blueprint: bill by bytes streamed (video, audio, live feeds, real-time data).

Event (same shape as ``trackStreamBytes`` in ``@dodopayments/ingestion-blueprints``)::

    {"event_id": "stream_consumption_1737455400000_9a1b…", "customer_id": "cus_123",
     "event_name": "stream_consumption", "timestamp": "2025-01-21T10:30:00.000Z",
     "metadata": {"bytes": 1048576, "stream_type": "video"}}

Suggested meter: **sum** over ``bytes`` on ``stream_consumption``.

Long streams are tracked **by chunk, not at the end** (a stream that dies after an hour still
bills the hour): ``meter_stream`` / ``ameter_stream`` pass chunks through unchanged and record an
event every ``every_bytes`` bytes (``0``: one event per chunk) and/or every ``every_seconds``
seconds, plus the remainder when the stream ends, fails or is closed early. The sum of the
events' ``bytes`` is exactly the number of bytes that went through.
"""

from __future__ import annotations

import time
from typing import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, TypeVar

from ._common import Tracker, event_name_for
from .meters import SuggestedMeter

EVENT_NAME = "stream_consumption"
DEFAULT_EVERY_BYTES = 1024 * 1024

T = TypeVar("T")


def suggested_meters(event_name: str | None = None) -> list[SuggestedMeter]:
    return [SuggestedMeter("stream", "Stream bytes", event_name or EVENT_NAME, "sum", "bytes", "bytes",
                           "Stream blueprint: bytes streamed (sum of bytes).")]


def track_stream_bytes(ingestion: Tracker, customer_id: str, nbytes: int, *, metadata: dict | None = None,
                       event_name: str | None = None) -> str:
    """Record ``nbytes`` streamed; returns the ``event_id``."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError("bytes must be a non-negative integer")
    return ingestion.track(customer_id, {"bytes": nbytes, **(metadata or {})},
                           event_name=event_name_for(ingestion, event_name, EVENT_NAME))


def chunk_size(chunk) -> int:
    """Bytes in a chunk: ``len`` of bytes/bytearray, ``nbytes`` of a memoryview, UTF-8 size of a str."""
    if isinstance(chunk, memoryview):
        return chunk.nbytes
    if isinstance(chunk, str):
        return len(chunk.encode("utf-8"))
    return len(chunk)


class StreamTracker:
    """Counts bytes and records an event each time ``every_bytes`` / ``every_seconds`` is reached.

    ::

        with StreamTracker(ingestion, "cus_123", metadata={"stream_type": "video"}) as t:
            for chunk in source:
                t.add(len(chunk))
                send(chunk)
    """

    def __init__(self, ingestion: Tracker, customer_id: str, *, every_bytes: int = DEFAULT_EVERY_BYTES,
                 every_seconds: float | None = None, metadata: dict | None = None, event_name: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if every_bytes < 0:
            raise ValueError("every_bytes must be >= 0")
        self.ingestion, self.customer_id = ingestion, customer_id
        self.every_bytes, self.every_seconds = every_bytes, every_seconds
        self.metadata, self.event_name, self.clock = metadata, event_name, clock
        self.total = 0          # bytes seen
        self.recorded = 0       # bytes already sent in events
        self.event_ids: list[str] = []
        self._last = clock()

    @property
    def pending(self) -> int:
        return self.total - self.recorded

    def add(self, nbytes: int) -> None:
        if nbytes <= 0:
            return
        self.total += nbytes
        due = self.pending >= self.every_bytes
        if self.every_seconds is not None and self.clock() - self._last >= self.every_seconds:
            due = True
        if due:
            self._record()

    def _record(self) -> None:
        n = self.pending
        if n <= 0:
            return
        self.event_ids.append(track_stream_bytes(self.ingestion, self.customer_id, n, metadata=self.metadata,
                                                 event_name=self.event_name))
        self.recorded += n
        self._last = self.clock()

    def finish(self) -> None:
        """Record whatever has not been recorded yet (idempotent)."""
        self._record()

    def __enter__(self) -> "StreamTracker":
        return self

    def __exit__(self, *exc) -> bool:
        self.finish()
        return False


def meter_stream(chunks: Iterable[T], ingestion: Tracker, customer_id: str, *,
                 every_bytes: int = DEFAULT_EVERY_BYTES, every_seconds: float | None = None,
                 metadata: dict | None = None, event_name: str | None = None,
                 size: Callable[[T], int] = chunk_size) -> Iterator[T]:
    """Yield ``chunks`` unchanged while recording bytes as they pass (see the module doc)."""
    tracker = StreamTracker(ingestion, customer_id, every_bytes=every_bytes, every_seconds=every_seconds,
                            metadata=metadata, event_name=event_name)
    try:
        for chunk in chunks:
            tracker.add(size(chunk))
            yield chunk
    finally:  # end, error, or the consumer closing the generator early
        tracker.finish()


async def ameter_stream(chunks: AsyncIterable[T], ingestion: Tracker, customer_id: str, *,
                        every_bytes: int = DEFAULT_EVERY_BYTES, every_seconds: float | None = None,
                        metadata: dict | None = None, event_name: str | None = None,
                        size: Callable[[T], int] = chunk_size) -> AsyncIterator[T]:
    """Async twin of :func:`meter_stream` (for ``StreamingResponse`` bodies, aiohttp reads, …)."""
    tracker = StreamTracker(ingestion, customer_id, every_bytes=every_bytes, every_seconds=every_seconds,
                            metadata=metadata, event_name=event_name)
    try:
        async for chunk in chunks:
            tracker.add(size(chunk))
            yield chunk
    finally:
        tracker.finish()
