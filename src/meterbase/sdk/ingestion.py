"""Batched, fire-and-forget event ingestion: ``Ingestion`` (threads) and ``AsyncIngestion`` (asyncio).

``track()`` validates an event locally, gives it a unique id (``<event_name>_<ms>_<random>``) and a
timestamp, and queues it; it never does I/O. Queued events are sent to ``POST /v1/events/ingest``
in batches when ``batch_size`` events are waiting or every ``flush_interval`` seconds, by a
background thread (``Ingestion``) or task (``AsyncIngestion``), and on ``flush()`` / ``close()``.

Delivery rules:

* Transport errors (timeouts included), 429 and 5xx are retried ``max_retries`` times with
  exponential backoff and jitter. If a batch still fails it goes back to the head of the queue
  and is tried again at the next flush: nothing is dropped because the server is unreachable.
  Replays are safe: the server is idempotent on ``event_id``.
* 400/422 answers are not retried. The server rejects a batch whole when one event is bad, so the
  batch is bisected until the bad events are isolated; they are reported to ``on_error`` (and
  logged, and written to ``spool_path`` if set) and the good ones are delivered.
* Shutdown: ``close()``, the end of a ``with`` block, interpreter exit (``atexit``) and SIGTERM
  (turned into ``SystemExit`` when no other handler is installed) all flush the queue. Events
  that still cannot be delivered then are appended to ``spool_path`` (JSON Lines, replayable with
  ``meterbase ingest FILE``) or, without one, logged as lost. SIGKILL and ``os._exit`` cannot be
  intercepted by any process: keep ``flush_interval`` short where that matters.

``environment`` exists for parity with Dodo's ``Ingestion``: in meterbase the API key decides the
environment, so the value is only checked against the key's ``mb_test_`` / ``mb_live_`` prefix.

This module holds the thread client and re-exports the rest: the queue, validation and delivery
outcomes both clients share are in :mod:`.ingestion_base`, the asyncio client in :mod:`.ingestion_async`,
the exit and SIGTERM hooks in :mod:`.shutdown`.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from ..errors import ValidationError
from .ingestion_async import AsyncIngestion
from .ingestion_base import (
    ENVIRONMENTS, INGEST_PATH, KEY_PREFIXES, IngestionError, QueueFullError, _Base, key_environment, log,
    now_iso, resolve_environment,
)
from .shutdown import _unregister, install_sigterm_handler


class Ingestion(_Base):
    """Thread-based batching client. ``track()`` is safe from any thread.

    >>> ingestion = Ingestion(api_key="mb_test_...", environment="test_mode", event_name="api_call")
    >>> ingestion.track("cus_1", {"endpoint": "/v1/users"})      # returns the event id
    >>> ingestion.flush()                                         # optional: send now and wait
    """

    def __init__(self, api_key: str | None = None, environment: str | None = None, event_name: str | None = None,
                 base_url: str | None = None, *, transport: httpx.BaseTransport | None = None, **options: Any):
        super().__init__(api_key, environment, event_name, base_url, **options)
        self._http = httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self.headers,
                                  transport=transport)
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None

    def _started(self, full: bool) -> None:
        if self._worker is None or not self._worker.is_alive():
            with self._qlock:
                if not self._closed and (self._worker is None or not self._worker.is_alive()):
                    self._worker = threading.Thread(target=self._run, name="meterbase-ingestion", daemon=True)
                    self._worker.start()
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            woken = self._wake.wait(self.flush_interval)  # True: a batch filled up; False: the interval
            self._wake.clear()
            if self._closed:
                return
            try:
                with self._send_lock:
                    self._drain_sync(self._http, full_only=woken)
            except Exception:  # noqa: BLE001 - the worker must survive anything
                log.exception("meterbase: background flush failed")

    def flush(self) -> None:
        """Send every queued event now and wait for the acknowledgements.

        Raises ``IngestionError`` if some could not be delivered after retries; they stay queued.
        """
        with self._send_lock:
            cause = self._drain_sync(self._http)
        if cause is not None:
            raise IngestionError(f"{self.pending} event(s) could not be delivered and stay queued: {cause}") from cause

    def close(self) -> None:
        """Flush, stop the worker and release the connection pool. Idempotent."""
        with self._qlock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        cause = None
        try:
            with self._send_lock:
                cause = self._drain_sync(self._http)
        finally:
            self._give_up(cause)
            if self._worker is not None and self._worker is not threading.current_thread():
                self._worker.join(timeout=5)
            self._http.close()
            _unregister(self)

    shutdown = close
    _at_exit = close

    def __enter__(self) -> "Ingestion":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Ingestion", "AsyncIngestion", "IngestionError", "QueueFullError", "ValidationError",
           "key_environment", "install_sigterm_handler", "ENVIRONMENTS", "INGEST_PATH", "KEY_PREFIXES",
           "now_iso", "resolve_environment"]
