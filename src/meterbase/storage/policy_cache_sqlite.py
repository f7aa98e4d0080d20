"""The SQLite half of the policy cache: is the cache still exact? (``PRAGMA data_version`` per thread).

See :mod:`.policy_cache`: on SQLite a view is served only when no other connection committed since this
thread last asked, which ``PRAGMA data_version`` answers in a few µs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Callable

log = logging.getLogger("meterbase.policy.cache")


def sqlite_path(url) -> str | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return database


class _Probe:
    """One thread's connection and the ``data_version`` it last saw (weakly tracked for close())."""

    __slots__ = ("conn", "cursor", "version", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.cursor = conn, conn.cursor()
        self.version = self.data_version()

    def data_version(self) -> int:
        return self.cursor.execute("PRAGMA data_version").fetchone()[0]


class DataVersion:
    """Has any other connection committed since this thread last asked? ``PRAGMA data_version`` on a
    connection per thread, so the hot path takes no lock (sqlite3 drops the GIL while it runs, so one
    shared connection behind a lock convoys threads).

    A thread's first answer cannot be compared with anything, so it joins under a lock: it reads its
    own baseline, *then* a shared reference connection's version, and drops every view when the
    reference changed since the previous join. Any commit after a fill's read is therefore seen,
    before a later reader could serve that fill, by the thread whose baseline predates it, or by the
    reference check of the join whose baseline includes it.
    """

    def __init__(self, path: str, reset: Callable[[], None]):
        self._uri = Path(path).expanduser().resolve().as_uri() + "?mode=rw"
        self._reset = reset
        self._local = threading.local()
        self._lock = threading.Lock()
        self._probes: weakref.WeakSet[_Probe] = weakref.WeakSet()
        self._reference: _Probe | None = None
        self._reference_version: int | None = None
        self._closed = False

    def fresh(self) -> bool:
        probe = getattr(self._local, "probe", None)
        try:
            if probe is None:
                return self._join()
            version = probe.data_version()
        except sqlite3.Error as exc:  # busy (never waited for), no file yet, closed: read through this time
            log.debug("data_version probe failed: %s", exc)
            return False
        if version != probe.version:
            probe.version = version
            self._reset()
        return not self._closed

    def _join(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            probe = _Probe(self._connect())
            if self._reference is None:
                self._reference = _Probe(self._connect())
            reference = self._reference.data_version()
            if reference != self._reference_version:
                self._reference_version = reference
                self._reset()
            self._probes.add(probe)
            self._local.probe = probe
        return True

    def _connect(self) -> sqlite3.Connection:
        # timeout 0: a probe never waits for a lock (it may run on an event loop); busy means read through
        return sqlite3.connect(self._uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for probe in list(self._probes):
                probe.conn.close()  # a thread still using it gets sqlite3.Error: reads through
            if self._reference is not None:
                self._reference.conn.close()
