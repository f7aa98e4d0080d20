"""``AsyncIngestion``: the asyncio batching client (delivery rules in :mod:`meterbase.sdk.ingestion`).

A background task, started by the first ``track()`` made inside a running loop, sends the queue;
at interpreter exit, with the loop gone, what is left goes over a synchronous connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from .client import RETRY_STATUSES
from .ingestion_base import INGEST_PATH, IngestionError, _Base, _Undelivered, log
from .shutdown import _unregister


class AsyncIngestion(_Base):
    """asyncio batching client. ``track()`` is a plain (non-blocking) call; delivery runs in a
    background task started on the first ``track()`` made inside a running loop.

    >>> async with AsyncIngestion(api_key=key, event_name="api_call") as ingestion:
    ...     ingestion.track("cus_1", {"endpoint": "/v1/users"})
    ...     await ingestion.flush()

    Events still queued when the loop ends (``asyncio.run`` cancels the task) are flushed by the
    task on cancellation, and at interpreter exit with a synchronous connection as a last resort.
    """

    def __init__(self, api_key: str | None = None, environment: str | None = None, event_name: str | None = None,
                 base_url: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any):
        super().__init__(api_key, environment, event_name, base_url, **options)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._send_lock: asyncio.Lock | None = None

    def _bind(self) -> None:
        """(Re)create the loop-bound objects for the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._http = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, headers=self.headers,
                                           transport=self._transport)
            self._wake = asyncio.Event()
            self._send_lock = asyncio.Lock()
            self._task = None

    def _started(self, full: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # tracked outside a loop: sent by the next flush() or at exit
        if self._loop is not loop or self._task is None or self._task.done():
            self._bind()
            self._task = loop.create_task(self._run(), name="meterbase-ingestion")
        if full:
            self._wake.set()

    async def _run(self) -> None:
        try:
            while not self._closed:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                    woken = True  # a batch filled up
                except asyncio.TimeoutError:
                    woken = False  # the interval
                self._wake.clear()
                try:
                    await self._drain(full_only=woken)
                except Exception:  # noqa: BLE001
                    log.exception("meterbase: background flush failed")
        except asyncio.CancelledError:
            # The loop is shutting down (or aclose() stopped us): deliver what is queued first.
            if not self._closed:
                await self._drain()
            raise

    async def _send(self, batch: list[dict]) -> None:
        body = orjson.dumps({"events": batch})
        err: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._delay(attempt - 1))
            try:
                r = await self._http.post(INGEST_PATH, content=body)
            except httpx.TransportError as exc:
                err = exc
                continue
            out = self._classify(r)
            if isinstance(out, dict):
                return self._accepted(out, len(batch))
            if out.status not in RETRY_STATUSES:
                if out.status in (400, 422) and len(batch) > 1:
                    mid = len(batch) // 2
                    try:
                        await self._send(batch[:mid])
                    except _Undelivered as u:
                        raise _Undelivered(u.events + batch[mid:], u.cause) from None
                    return await self._send(batch[mid:])
                return self._reject(out, batch)
            err = out
        raise _Undelivered(batch, err)

    async def _drain(self, full_only: bool = False) -> BaseException | None:
        self._bind()
        async with self._send_lock:
            while True:
                batch = self._take(full_only)
                if not batch:
                    return None
                try:
                    await self._send(batch)
                except _Undelivered as u:
                    self._putback(u.events)
                    self._report(u.cause, u.events)
                    return u.cause
                except BaseException:
                    self._putback(batch)
                    raise

    async def flush(self) -> None:
        """Send every queued event now; raises ``IngestionError`` if some stay undelivered."""
        cause = await self._drain()
        if cause is not None:
            raise IngestionError(f"{self.pending} event(s) could not be delivered and stay queued: {cause}") from cause

    async def aclose(self) -> None:
        """Flush, stop the background task and close the connection pool. Idempotent."""
        with self._qlock:
            if self._closed:
                return
            self._closed = True
        cause = None
        try:
            if self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
                self._task.cancel()
                try:
                    await self._task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
            cause = await self._drain()
        finally:
            self._give_up(cause)
            if self._http is not None:
                await self._http.aclose()
            _unregister(self)

    async def __aenter__(self) -> "AsyncIngestion":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def _at_exit(self) -> None:
        """Interpreter exit: the loop is gone, so deliver what is left over a sync connection."""
        with self._qlock:
            if self._closed:
                return
            self._closed = True
        cause = None
        if self._queue:
            with self._new_sync_http() as http:
                cause = self._drain_sync(http)
        self._give_up(cause)
        _unregister(self)
