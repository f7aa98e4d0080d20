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
    #: Per-key token bucket (per server process): sustained requests per second, and the burst a key
    #: may send at once. Generous by default (a 1000-event batch is one request); 0 disables the limit.
    rate_limit_rps: float = 1000.0
    rate_limit_burst: int = 2000
    #: Seconds a request body may take to arrive whole (slow-loris bound; 408 past it).
    body_read_timeout: float = 30.0
    #: Failed authentications (a token that is not valid) per client address: a bucket of
    #: ``auth_failure_burst`` refilled at ``auth_failure_rps``; past it, 429 before any key lookup.
    auth_failure_rps: float = 1.0
    auth_failure_burst: int = 30
    #: Seconds between the folder's rounds (events -> rollups, ``storage.fold``): ``meterbase serve`` runs
    #: them in its folder process (``storage.fold_process``), an app built by ``create_app`` in a thread;
    #: 0 runs no folder (another process, or ``meterbase events fold``, must then fold).
    fold_interval: float = 1.0
    #: Set by ``meterbase serve`` for its workers when it runs a folder process (``MB_FOLDER_PROCESS=1``).
    folder_process: bool = False
    #: Most events an environment may have waiting for the folder: past it, ingest waits for the folder
    #: (up to 5 s, then 429 ingest_backlog). Only where a folder runs; 0 disables the bound.
    max_unfolded: int = 100_000
    #: Largest usage answer, in cells (rows × windows; a row per customer or metadata group): above it
    #: a usage query is refused (422 usage_too_large) before it runs. 0 disables the bound.
    max_usage_cells: int = 100_000

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("MB_DATABASE_URL", DEFAULT_URL),
            business_id=os.environ.get("MB_BUSINESS_ID", cls.business_id),
            max_body_bytes=int(os.environ.get("MB_MAX_BODY_BYTES", cls.max_body_bytes)),
            rate_limit_rps=float(os.environ.get("MB_RATE_LIMIT_RPS", cls.rate_limit_rps)),
            rate_limit_burst=int(os.environ.get("MB_RATE_LIMIT_BURST", cls.rate_limit_burst)),
            body_read_timeout=float(os.environ.get("MB_BODY_READ_TIMEOUT", cls.body_read_timeout)),
            auth_failure_rps=float(os.environ.get("MB_AUTH_FAILURE_RPS", cls.auth_failure_rps)),
            auth_failure_burst=int(os.environ.get("MB_AUTH_FAILURE_BURST", cls.auth_failure_burst)),
            fold_interval=float(os.environ.get("MB_FOLD_INTERVAL", cls.fold_interval)),
            folder_process=os.environ.get("MB_FOLDER_PROCESS", "") == "1",
            max_unfolded=int(os.environ.get("MB_MAX_UNFOLDED", cls.max_unfolded)),
            max_usage_cells=int(os.environ.get("MB_MAX_USAGE_CELLS", cls.max_usage_cells)),
        )
