"""Dashboard wiring (``meterbase.dashboard.providers.live_sessions``): a customer's running sessions.

Read-only, straight from ``live_sessions`` (no policy needed). Fields per the providers contract:
``id, started_at, last_seen_at, description`` (instants as ISO strings), plus ``entitlement``,
``elapsed_seconds`` and ``status``. Sessions being stopped (claimed, metering in progress) are shown too.
"""

from __future__ import annotations

from ..storage import sessions_repo as repo
from ..timeutil import iso_us
from .core import RUNNING, STOPPING, elapsed_seconds


def _duration(seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def live_sessions(store, environment: str, customer_id: str) -> list[dict]:
    now = store.now()
    with store.read() as conn:
        rows = [r for status in (RUNNING, STOPPING)
                for r in repo.list_sessions(conn, environment, customer_id=customer_id, status=status, limit=200)]
    rows.sort(key=lambda r: (r.started_at, r.session_id), reverse=True)
    out = []
    for r in rows:
        elapsed = elapsed_seconds(r.started_at, now)
        what = f"{r.entitlement}, running {_duration(elapsed)}" + ("" if r.status == RUNNING else " (stopping)")
        out.append({
            "id": r.session_id,
            "started_at": iso_us(r.started_at),
            "last_seen_at": iso_us(r.last_seen_at),
            "description": f"{r.description} · {what}" if r.description else what,
            "entitlement": r.entitlement,
            "elapsed_seconds": elapsed,
            "status": r.status,
        })
    return out
