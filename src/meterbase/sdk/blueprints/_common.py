"""What every blueprint shares: the tracker protocol and event-name resolution."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger("meterbase.sdk.blueprints")


class Tracker(Protocol):
    """Anything with ``Ingestion.track``'s signature: ``Ingestion``, ``AsyncIngestion`` or a test double."""

    event_name: str | None

    def track(self, customer_id: str, metadata: dict | None = None, *, event_name: str | None = None,
              **kwargs: Any) -> str: ...


def event_name_for(ingestion: Tracker, explicit: str | None, default: str) -> str:
    """``explicit`` > the ingestion's ``event_name`` (Dodo's model: one client per meter) > ``default``."""
    return explicit or getattr(ingestion, "event_name", None) or default


def number(value: float) -> int | float:
    """Integral floats as ints (``1500`` not ``1500.0``) so events read like hand-written ones."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
