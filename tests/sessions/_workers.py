"""Worker processes for the concurrent-reaper test (importable by ``multiprocessing`` spawn children)."""

from __future__ import annotations

from datetime import datetime


def reap_worker(url: str, environment: str, now_iso: str, max_idle: float, start, results) -> None:
    """Open an own Store on ``url`` with a clock frozen at ``now_iso``, wait for the signal, reap once."""
    from meterbase.policy.service import PolicyService
    from meterbase.sessions import SessionService
    from meterbase.storage import Store

    now = datetime.fromisoformat(now_iso)
    store = Store(url, lambda: now)
    try:
        svc = SessionService(store, PolicyService(store, environment=environment))
        svc.list(limit=1)  # warm the connection before the race
        start.wait(60)
        result = svc.reap(max_idle)
        results.put(([s.session_id for s in result.reaped], result.skipped, [e for _, e in result.errors], None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(([], [], [], repr(exc)))
    finally:
        store.close()
