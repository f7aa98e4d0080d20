"""Time Range blueprint: bill by elapsed time (serverless functions, containers, VMs, jobs).

Event (same shape as ``trackTimeRange`` in ``@dodopayments/ingestion-blueprints``)::

    {"event_id": "time_range_usage_1737455400000_5f2c…", "customer_id": "cus_123",
     "event_name": "time_range_usage", "timestamp": "2025-01-21T10:30:00.000Z",
     "metadata": {"durationMs": 1234, "function_name": "image-processor"}}

Only the duration keys you give are sent (``durationMs``, ``durationSeconds``,
``durationMinutes``, in that order), followed by your metadata (which wins on a clash).

Suggested meter: **sum** over ``durationMs`` (or ``durationSeconds`` / ``durationMinutes``) on
``time_range_usage``.

Measuring: ``measure_time`` is a context manager and a decorator (sync and async functions). It
times with a monotonic clock (``time.monotonic_ns``: immune to wall-clock jumps) and records the
event even when the block raises, adding ``"error": "<ExceptionType>"``; the exception propagates.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable

from ._common import Tracker, event_name_for, number
from .meters import SuggestedMeter

EVENT_NAME = "time_range_usage"
UNIT_KEYS = {"ms": "durationMs", "seconds": "durationSeconds", "minutes": "durationMinutes"}
_NS_PER = {"ms": 1_000_000, "seconds": 1_000_000_000, "minutes": 60_000_000_000}
_DIGITS = {"ms": 3, "seconds": 6, "minutes": 6}


def suggested_meters(event_name: str | None = None, *, unit: str = "ms") -> list[SuggestedMeter]:
    if unit not in UNIT_KEYS:
        raise ValueError(f"unit must be one of {', '.join(UNIT_KEYS)}")
    label = {"ms": "milliseconds", "seconds": "seconds", "minutes": "minutes"}[unit]
    return [SuggestedMeter("time-range", "Compute time", event_name or EVENT_NAME, "sum", UNIT_KEYS[unit], label,
                           f"Time Range blueprint: total elapsed time (sum of {UNIT_KEYS[unit]}).")]


def time_range_metadata(*, duration_ms: float | None = None, duration_seconds: float | None = None,
                        duration_minutes: float | None = None, metadata: dict | None = None) -> dict:
    meta: dict[str, Any] = {}
    if duration_ms is not None:
        meta["durationMs"] = duration_ms
    if duration_seconds is not None:
        meta["durationSeconds"] = duration_seconds
    if duration_minutes is not None:
        meta["durationMinutes"] = duration_minutes
    if not meta:
        raise ValueError("give at least one of duration_ms, duration_seconds, duration_minutes")
    for key, value in meta.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key} must be a non-negative number")
    return {**meta, **(metadata or {})}


def track_time_range(ingestion: Tracker, customer_id: str, *, duration_ms: float | None = None,
                     duration_seconds: float | None = None, duration_minutes: float | None = None,
                     metadata: dict | None = None, event_name: str | None = None) -> str:
    """Record one elapsed-time event; returns its ``event_id``."""
    meta = time_range_metadata(duration_ms=duration_ms, duration_seconds=duration_seconds,
                               duration_minutes=duration_minutes, metadata=metadata)
    return ingestion.track(customer_id, meta, event_name=event_name_for(ingestion, event_name, EVENT_NAME))


def duration_value(elapsed_ns: int, unit: str) -> int | float:
    """``elapsed_ns`` in ``unit`` (ms to the microsecond, seconds and minutes to 6 decimals)."""
    return number(round(elapsed_ns / _NS_PER[unit], _DIGITS[unit]))


class measure_time:
    """Time a block or a function and record a Time Range event when it ends (even on error).

    ::

        with measure_time(ingestion, "cus_123", metadata={"job": "export"}):
            run_export()

        @measure_time(ingestion, lambda user, *a, **kw: user.customer_id, unit="seconds")
        def render(user, doc): ...

    ``customer_id`` is a string or, for the decorator, a callable receiving the function's
    arguments. After the block, ``elapsed_ns`` and ``event_id`` are set on the context manager.
    """

    def __init__(self, ingestion: Tracker, customer_id: str | Callable[..., str], *, unit: str = "ms",
                 metadata: dict | None = None, event_name: str | None = None,
                 clock: Callable[[], int] = time.monotonic_ns):
        if unit not in UNIT_KEYS:
            raise ValueError(f"unit must be one of {', '.join(UNIT_KEYS)}")
        self.ingestion, self.customer_id, self.unit = ingestion, customer_id, unit
        self.metadata, self.event_name, self.clock = metadata, event_name, clock
        self.elapsed_ns: int | None = None
        self.event_id: str | None = None
        self._start: int | None = None

    def _copy(self, customer_id: str) -> "measure_time":
        return measure_time(self.ingestion, customer_id, unit=self.unit, metadata=self.metadata,
                            event_name=self.event_name, clock=self.clock)

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> "measure_time":
        if callable(self.customer_id):
            raise TypeError("a callable customer_id is only for the decorator form")
        self._start = self.clock()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.elapsed_ns = self.clock() - self._start
        meta = {UNIT_KEYS[self.unit]: duration_value(self.elapsed_ns, self.unit), **(self.metadata or {})}
        if exc_type is not None:
            meta["error"] = exc_type.__name__
        self.event_id = self.ingestion.track(self.customer_id, meta,
                                             event_name=event_name_for(self.ingestion, self.event_name, EVENT_NAME))
        return False  # never swallow the exception

    async def __aenter__(self) -> "measure_time":
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # -- decorator (a fresh timer per call, so concurrent calls do not share state) -----------
    def _customer(self, args, kwargs) -> str:
        return self.customer_id(*args, **kwargs) if callable(self.customer_id) else self.customer_id

    def __call__(self, func: Callable) -> Callable:
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                async with self._copy(self._customer(args, kwargs)):
                    return await func(*args, **kwargs)
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._copy(self._customer(args, kwargs)):
                return func(*args, **kwargs)
        return wrapper
