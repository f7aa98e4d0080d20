"""Group commit: one writer thread turns concurrent write requests into few transactions.

Request threads hand over their item (an ingest batch, a policy decision …) and wait. The writer
takes every item waiting (up to ``max_size``, measured by ``size``), runs ``write_group`` over them
in ONE transaction in arrival order and commits once, then wakes each request with its own result:
an answer still means "durably committed", but the commit (an fsync on SQLite) and the write lock
are paid once per group instead of per request.

If a group's transaction fails, its items are retried one transaction each, so one failing item
cannot fail the others.

``gate`` (optional) is entered before the group is taken and left after it is written: with the
cross-process writer lock as the gate (file SQLite), the items that arrive while this process waits for
another process's write join the group, instead of waiting for a transaction of their own.

The writer thread starts on the first ``submit`` (an unused committer costs nothing), and again in a
forked child, which inherits the committer but not its thread.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

_STOP = object()


class GroupCommitter:
    def __init__(self, write_group: Callable[[list[Any]], list[Any]], max_size: int = 10_000,
                 size: Callable[[Any], int] = lambda item: 1, name: str = "meterbase-group-commit",
                 gate: Callable[[], ContextManager] | None = None):
        self._write_group = write_group
        self._gate = gate or nullcontext
        self._max_size = max_size
        self._size = size
        self._name = name
        self._start_lock = threading.Lock()
        self._pid: int | None = None  # the process whose writer thread serves self._queue
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def _started(self) -> None:
        if self._pid != os.getpid():
            with self._start_lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue()
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()
                    self._pid = os.getpid()

    def submit(self, item: Any) -> Any:
        """Write ``item``; returns its result after the transaction holding it has committed."""
        self._started()
        fut: Future = Future()
        self._queue.put((item, fut))
        return fut.result()

    def close(self) -> None:
        if self._pid != os.getpid() or self._thread is None:  # never started here (or a forked copy)
            return
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._pid = self._thread = None  # a later submit starts a new writer

    def _take_group(self, first) -> list:
        group, size = [first], self._size(first[0])
        while size < self._max_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            group.append(item)
            size += self._size(item[0])
        return group

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            with self._gate():  # the group is taken once the gate is passed: what queued meanwhile joins it
                group = self._take_group(first)
                try:
                    results = self._write_group([item for item, _ in group])
                except Exception:  # noqa: BLE001 - isolate the failing item: one transaction each
                    for item, fut in group:
                        try:
                            fut.set_result(self._write_group([item])[0])
                        except Exception as exc:  # noqa: BLE001
                            fut.set_exception(exc)
                    continue
            for (_, fut), result in zip(group, results):
                fut.set_result(result)
