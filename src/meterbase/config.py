"""Runtime settings, read once from ``MB_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .storage.engine import DEFAULT_URL


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_URL
    #: Reported as ``business_id`` on Dodo-compatible objects.
    business_id: str = "bus_meterbase"
    #: Largest request body accepted (bytes); 1000 events with rich metadata fit comfortably.
    max_body_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("MB_DATABASE_URL", DEFAULT_URL),
            business_id=os.environ.get("MB_BUSINESS_ID", cls.business_id),
            max_body_bytes=int(os.environ.get("MB_MAX_BODY_BYTES", cls.max_body_bytes)),
        )
