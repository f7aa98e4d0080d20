"""A writer in another OS process for the policy-cache tests (importable by ``multiprocessing`` spawn children).

:class:`OtherProcess` starts :func:`serve`, which opens its own Store on the same database with a clock
frozen at the parent's instant and runs PolicyService calls sent over a queue, replying once committed.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime


def serve(url: str, environment: str, instant: str, commands, replies) -> None:
    from meterbase.policy.service import PolicyService
    from meterbase.storage import Store

    now = datetime.fromisoformat(instant)
    store = Store(url, clock=lambda: now)
    try:
        svc = PolicyService(store, environment=environment)
        replies.put(("ready", None))
        for method, args in iter(commands.get, None):
            try:
                result = getattr(svc, method)(*args)
                replies.put(("ok", result.to_dict() if hasattr(result, "to_dict") else None))
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                replies.put(("error", repr(exc)))
    finally:
        store.close()


class OtherProcess:
    """``with OtherProcess(url, env, clock()) as other: other.call("allow", "cus", "gpu_compute", 5)``."""

    def __init__(self, url: str, environment: str, instant: datetime):
        ctx = multiprocessing.get_context("spawn")
        self._commands, self._replies = ctx.Queue(), ctx.Queue()
        self._proc = ctx.Process(target=serve, args=(url, environment, instant.isoformat(), self._commands, self._replies),
                                 daemon=True)

    def __enter__(self) -> "OtherProcess":
        self._proc.start()
        assert self._replies.get(timeout=120)[0] == "ready"
        return self

    def call(self, method: str, *args):
        """Run ``PolicyService.<method>(*args)`` there; returns its ``to_dict()`` after the commit."""
        self._commands.put((method, args))
        status, value = self._replies.get(timeout=120)
        assert status == "ok", value
        return value

    def __exit__(self, *exc) -> None:
        self._commands.put(None)
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
