"""Group commit: one writer thread per process turns concurrent ingest requests into few transactions.

Request threads validate their batch, hand it over and wait. The writer takes every batch waiting
(up to ``max_events``), stores them in ONE transaction in arrival order and commits once, then
wakes each request with its own result: an acknowledgement still means "durably committed", but
the commit (an fsync on SQLite) and the write lock are paid once per group instead of per request,
and requests queue fairly instead of sleeping in SQLite's busy handler.

If a group's transaction fails, its batches are retried one transaction each, so one failing batch
cannot fail the others.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable

from ..events.model import Event
from .events_repo import IngestResult

_STOP = object()


class GroupCommitter:
    def __init__(self, write_group: Callable[[list[tuple[str, list[Event]]]], list[IngestResult]],
                 max_events: int = 10_000):
        self._write_group = write_group
        self._max_events = max_events
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="meterbase-group-commit", daemon=True)
        self._thread.start()

    def submit(self, environment: str, batch: list[Event]) -> IngestResult:
        """Store ``batch``; returns after the transaction holding it has committed."""
        fut: Future = Future()
        self._queue.put((environment, batch, fut))
        return fut.result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _take_group(self, first) -> list:
        group, size = [first], len(first[1])
        while size < self._max_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            group.append(item)
            size += len(item[1])
        return group

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = self._take_group(first)
            try:
                results = self._write_group([(env, batch) for env, batch, _ in group])
            except Exception:  # noqa: BLE001 - isolate the failing batch: one transaction each
                for env, batch, fut in group:
                    try:
                        fut.set_result(self._write_group([(env, batch)])[0])
                    except Exception as exc:  # noqa: BLE001
                        fut.set_exception(exc)
                continue
            for (_, _, fut), result in zip(group, results):
                fut.set_result(result)
