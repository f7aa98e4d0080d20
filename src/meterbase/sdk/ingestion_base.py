"""What the sync and async ingestion clients share: configuration, local validation, the queue,
the delivery outcomes (accepted, rejected and bisected, spooled, lost) and synchronous delivery.

The clients themselves are :class:`meterbase.sdk.ingestion.Ingestion` (a thread) and
:class:`meterbase.sdk.ingestion_async.AsyncIngestion` (an asyncio task); the delivery rules are
described in :mod:`meterbase.sdk.ingestion`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

import httpx
import orjson

from ..events.model import MAX_BATCH
from ..events.validate import validate_event
from .client import RETRY_STATUSES, MeterbaseAPIError, _api_error, backoff_delay, new_event_id
from .shutdown import _register

log = logging.getLogger("meterbase.sdk")

ENVIRONMENTS = ("test_mode", "live_mode")
KEY_PREFIXES = {"mb_test_": "test_mode", "mb_live_": "live_mode"}
INGEST_PATH = "/v1/events/ingest"
_NO_FUTURE_CHECK = timedelta(days=36500)  # the server checks timestamps against its own clock

ErrorHandler = Callable[[BaseException, list], None]


class IngestionError(Exception):
    """Events could not be delivered (they are still queued unless the client was closed)."""


class QueueFullError(IngestionError):
    """``track()`` was called with ``max_queue`` events already waiting (the server is not keeping up)."""


def key_environment(api_key: str) -> str | None:
    """``test_mode`` / ``live_mode`` for a meterbase key (by its prefix), else ``None``."""
    for prefix, env in KEY_PREFIXES.items():
        if api_key.startswith(prefix):
            return env
    return None


def resolve_environment(api_key: str, environment: str | None) -> str | None:
    if environment is not None and environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be 'test_mode' or 'live_mode', not {environment!r}")
    from_key = key_environment(api_key)
    if environment and from_key and environment != from_key:
        raise ValueError(f"environment={environment!r} but this is a {from_key} API key: in meterbase the key "
                         f"decides the environment; use a {environment} key or drop the argument")
    return environment or from_key


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _timestamp(ts: datetime | str | None) -> str:
    if ts is None:
        return now_iso()
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        return ts.isoformat()
    return ts


def _metadata(metadata: dict | None) -> dict:
    # Decimals travel as exact strings (the server reads numeric strings as numbers).
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in (metadata or {}).items()}


class _Base:
    """Configuration, local validation and the queue shared by the sync and async clients."""

    def __init__(self, api_key: str | None = None, environment: str | None = None, event_name: str | None = None,
                 base_url: str | None = None, *, batch_size: int = 100, flush_interval: float = 5.0,
                 max_queue: int = 100_000, max_retries: int = 5, timeout: float = 10.0,
                 backoff_base: float = 0.25, backoff_cap: float = 8.0, spool_path: str | os.PathLike | None = None,
                 on_error: ErrorHandler | None = None, handle_signals: bool = True):
        api_key = api_key or os.environ.get("MB_API_KEY")
        if not api_key:
            raise ValueError("an API key is required (argument or $MB_API_KEY)")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        self.api_key = api_key
        self.environment = resolve_environment(api_key, environment)
        self.event_name = event_name
        self.base_url = (base_url or os.environ.get("MB_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.spool_path = Path(spool_path) if spool_path else None
        self.on_error = on_error
        self.stats = {"tracked": 0, "sent": 0, "duplicates": 0, "conflicts": 0, "rejected": 0, "retries": 0,
                      "spooled": 0, "lost": 0}
        self._queue: collections.deque[dict] = collections.deque()
        self._qlock = threading.Lock()
        self._closed = False
        _register(self, handle_signals)

    # -- building events ----------------------------------------------------------------------
    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}

    def build_event(self, customer_id: str, metadata: dict | None = None, *, event_name: str | None = None,
                    event_id: str | None = None, timestamp: datetime | str | None = None) -> dict:
        """The event ``track()`` would queue, validated with the server's own rules."""
        name = event_name or self.event_name
        if not name:
            raise ValueError("no event_name: pass one to track() or to the client")
        event = {"event_id": event_id or new_event_id(name), "customer_id": customer_id, "event_name": name,
                 "timestamp": _timestamp(timestamp), "metadata": _metadata(metadata)}
        validate_event(event, 0, "event", max_future=_NO_FUTURE_CHECK)  # raises ValidationError
        return event

    def track(self, customer_id: str, metadata: dict | None = None, *, event_name: str | None = None,
              event_id: str | None = None, timestamp: datetime | str | None = None) -> str:
        """Queue one event (no I/O) and return its ``event_id``.

        Raises ``meterbase.errors.ValidationError`` for an event the server would refuse,
        ``QueueFullError`` when ``max_queue`` events are waiting, ``IngestionError`` after close.
        """
        event = self.build_event(customer_id, metadata, event_name=event_name, event_id=event_id, timestamp=timestamp)
        with self._qlock:
            if self._closed:
                raise IngestionError("this ingestion client is closed")
            if len(self._queue) >= self.max_queue:
                raise QueueFullError(f"{len(self._queue)} events are waiting to be sent (max_queue)")
            self._queue.append(event)
            self.stats["tracked"] += 1
            full = len(self._queue) >= self.batch_size
        self._started(full)
        return event["event_id"]

    @property
    def pending(self) -> int:
        """Events queued and not yet acknowledged by the server."""
        return len(self._queue)

    def _started(self, full: bool) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _take(self, full_only: bool = False) -> list[dict]:
        """Up to ``batch_size`` events from the head; with ``full_only``, only a whole batch."""
        with self._qlock:
            if full_only and len(self._queue) < self.batch_size:
                return []
            n = min(self.batch_size, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _putback(self, events: list[dict]) -> None:
        with self._qlock:
            self._queue.extendleft(reversed(events))

    # -- outcomes -----------------------------------------------------------------------------
    def _accepted(self, reply: dict, n: int) -> None:
        self.stats["sent"] += n
        self.stats["duplicates"] += int(reply.get("duplicate_count", 0) or 0)
        self.stats["conflicts"] += int(reply.get("conflict_count", 0) or 0)
        if reply.get("conflict_count"):
            log.warning("meterbase: %s event id(s) reused with different content were ignored: %s",
                        reply["conflict_count"], reply.get("conflicts"))

    def _report(self, exc: BaseException, events: list[dict]) -> None:
        if self.on_error is not None:
            try:
                self.on_error(exc, events)
            except Exception:  # noqa: BLE001 - a broken callback must not stop delivery
                log.exception("meterbase: on_error callback failed")

    def _reject(self, exc: MeterbaseAPIError, events: list[dict]) -> None:
        self.stats["rejected"] += len(events)
        log.error("meterbase: the server rejected %d event(s): %s", len(events), exc)
        self._spool(events)
        self._report(exc, events)

    def _spool(self, events: list[dict]) -> bool:
        if not self.spool_path or not events:
            return False
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spool_path, "ab") as fh:
            fh.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
            fh.flush()
            os.fsync(fh.fileno())
        self.stats["spooled"] += len(events)
        return True

    def _give_up(self, cause: BaseException | None) -> None:
        """At close: whatever is still queued is spooled or, without a spool, reported lost."""
        with self._qlock:
            left = list(self._queue)
            self._queue.clear()
        if not left:
            return
        if self._spool(left):
            log.error("meterbase: %d undelivered event(s) written to %s (replay: meterbase ingest %s)",
                      len(left), self.spool_path, self.spool_path)
        else:
            self.stats["lost"] += len(left)
            log.error("meterbase: %d event(s) could not be delivered before shutdown and are lost (%s); "
                      "set spool_path to keep them", len(left), cause)
        self._report(cause or IngestionError("undelivered at shutdown"), left)

    def _classify(self, r: httpx.Response) -> dict | MeterbaseAPIError:
        if r.status_code < 300:
            return r.json()
        return _api_error(r)

    def _delay(self, attempt: int) -> float:
        self.stats["retries"] += 1
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap)

    # -- sync delivery (used by Ingestion, and by AsyncIngestion at interpreter exit) ---------
    def _send_sync(self, http: httpx.Client, batch: list[dict]) -> None:
        """Deliver one batch or raise: ``_Undelivered`` (transient, retries exhausted)."""
        body = orjson.dumps({"events": batch})
        err: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._delay(attempt - 1))
            try:
                r = http.post(INGEST_PATH, content=body)
            except httpx.TransportError as exc:
                err = exc
                continue
            out = self._classify(r)
            if isinstance(out, dict):
                return self._accepted(out, len(batch))
            if out.status not in RETRY_STATUSES:
                return self._refused_sync(http, out, batch)
            err = out
        raise _Undelivered(batch, err)

    def _refused_sync(self, http: httpx.Client, exc: MeterbaseAPIError, batch: list[dict]) -> None:
        if exc.status in (400, 422) and len(batch) > 1:
            mid = len(batch) // 2
            try:
                self._send_sync(http, batch[:mid])
            except _Undelivered as u:
                raise _Undelivered(u.events + batch[mid:], u.cause) from None
            return self._send_sync(http, batch[mid:])
        self._reject(exc, batch)

    def _drain_sync(self, http: httpx.Client, full_only: bool = False) -> BaseException | None:
        """Send everything queued (or just the whole batches); on a transient failure put the batch
        back and return the cause."""
        while True:
            batch = self._take(full_only)
            if not batch:
                return None
            try:
                self._send_sync(http, batch)
            except _Undelivered as u:
                self._putback(u.events)
                self._report(u.cause, u.events)
                return u.cause
            except BaseException:
                self._putback(batch)  # e.g. SystemExit from SIGTERM mid-request: resend later
                raise

    def _new_sync_http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self.headers)

    def _at_exit(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _Undelivered(Exception):
    def __init__(self, events: list[dict], cause: BaseException | None):
        super().__init__(f"{len(events)} event(s) not delivered: {cause}")
        self.events, self.cause = events, cause

