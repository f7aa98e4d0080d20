"""The PostgreSQL half of the policy cache: a LISTEN thread that applies other processes' changes.

See :mod:`.policy_cache`: every policy write announces itself with ``pg_notify`` on :data:`CHANNEL`; the
:class:`Listener` drops what changed and says whether readers may trust the cache right now.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import threading
import time
from typing import Any, Callable

from sqlalchemy import text

log = logging.getLogger("meterbase.policy.cache")

CHANNEL = "meterbase_policy"
NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


class Listener:
    """A daemon thread that LISTENs on :data:`CHANNEL`, applies notifications and tells the cache when
    it (dis)connects; :meth:`fresh` says whether readers may trust the views right now."""

    PING_SECONDS = 10.0  # liveness query on an idle connection
    RETRY_SECONDS = 0.05  # first reconnection delay, doubling up to MAX_BACKOFF
    MAX_BACKOFF = 5.0

    def __init__(self, conninfo: str, cache: Any):
        self.backend_pid: int | None = None  # of the LISTEN connection (tests terminate it)
        self.connected = False
        self._fd: int | None = None  # its socket
        self._busy = False  # reading or applying notifications
        self._local = threading.local()  # readers' poll objects (one may not be polled concurrently)
        self._conninfo = conninfo
        self._cache = cache
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="meterbase-policy-listener", daemon=True)
        self._thread.start()

    def fresh(self) -> bool:
        """Connected, and no notification waits unapplied: neither in the socket nor being applied.

        Lets readers read through instead of waiting for this thread to get the GIL. The socket is
        polled first: once the thread has drained it, ``_busy`` covers the rest.
        """
        fd = self._fd
        if not self.connected or fd is None:
            return False
        local = self._local
        if getattr(local, "fd", None) != fd:
            local.poller, local.fd = select.poll(), fd
            local.poller.register(fd, select.POLLIN)
        return not local.poller.poll(0) and not self._busy

    def _run(self) -> None:
        import psycopg

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5,
                                     application_name="meterbase-policy-cache") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.backend_pid, self._fd, failures = conn.info.backend_pid, conn.pgconn.socket, 0
                    self._cache._reset()  # anything cached before LISTEN may have missed notifications
                    self.connected = True
                    try:
                        self._pump(conn, self._cache._on_notify)
                    finally:  # before the socket closes (its number could be reused)
                        self.connected, self._fd = False, None
                        self._cache._reset()
            except Exception as exc:  # noqa: BLE001 - any failure: read through, then reconnect
                if not self._stop.is_set():
                    log.warning("policy cache listener disconnected (%s); reading through until it is back", exc)
            self._stop.wait(min(self.RETRY_SECONDS * 2**failures, self.MAX_BACKOFF))
            failures += 1

    def _pump(self, conn, on_notify: Callable[[str], None]) -> None:
        last_ping = time.monotonic()
        with selectors.DefaultSelector() as sel:
            sel.register(conn.pgconn.socket, selectors.EVENT_READ, "db")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stop.is_set():
                ready = {key.data for key, _ in sel.select(self.PING_SECONDS)}
                if "wake" in ready:
                    return
                got = False
                if "db" in ready:
                    self._busy = True
                    try:
                        for notify in conn.notifies(timeout=0):
                            got = True
                            on_notify(notify.payload)
                    finally:
                        self._busy = False
                if ("db" in ready and not got) or time.monotonic() - last_ping >= self.PING_SECONDS:
                    conn.execute("SELECT 1")  # readable without notifications: maybe EOF, raises when so
                    last_ping = time.monotonic()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        if not self._thread.is_alive():  # else it still polls them: leave them open
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
