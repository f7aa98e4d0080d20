"""Retrying a whole transaction when PostgreSQL aborts it as a deadlock or serialization victim.

Two concurrent batches that share event ids in different orders can deadlock on the unique index;
PostgreSQL aborts one. Ingest is idempotent, so running the aborted transaction again is safe.
"""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def is_retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_transaction(fn: Callable[[], T], attempts: int = 5) -> T:
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")
