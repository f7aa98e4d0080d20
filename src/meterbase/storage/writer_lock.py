"""A fair queue in front of SQLite's write lock, shared by every thread and process on one file.

SQLite lets one writer in at a time (``BEGIN IMMEDIATE``); the others wait in its busy handler,
which *sleeps and polls* (1, 2, 5 … 100 ms). Under load this makes convoys: a writer that just
committed takes the lock again at once while the others sleep, so latency grows to seconds while
the CPU idles. Writers therefore first take an exclusive ``flock`` on ``<database>-writer.lock``:
the kernel queues the waiters and wakes the next one the moment the lock is released, and
``BEGIN IMMEDIATE`` then finds SQLite's own lock free. SQLite's lock stays the authority (a writer
that does not use this queue, e.g. the ``sqlite3`` shell, is still serialised by it); this only
decides who goes next, quickly.

Each thread holds its own descriptor (``flock`` locks belong to an open file description, so
threads of one process queue behind each other too). Re-entry on one thread is counted.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator


class WriterLock:
    def __init__(self, database_path: str):
        self.path = database_path + "-writer.lock"
        self._local = threading.local()
        self._fds: list[int] = []
        self._fds_lock = threading.Lock()
        self._generation = 0  # bumped by close(): threads reopen instead of using a closed descriptor

    def _fd(self) -> int | None:
        local = self._local
        # a forked child inherits the forking thread's descriptor, and with it the parent's lock: reopen
        if getattr(local, "generation", None) != (self._generation, os.getpid()):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # read-only directory and the like: SQLite's own busy handler still serialises
                fd = None
            local.fd, local.depth, local.generation = fd, 0, (self._generation, os.getpid())
            if fd is not None:
                with self._fds_lock:
                    self._fds.append(fd)
        return local.fd

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._fd()
        locked = False
        if fd is not None and self._local.depth == 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL; woken by the kernel on release
                locked = True
            except OSError:  # a filesystem without flock: fall back to SQLite's busy handler
                pass
        self._local.depth += 1
        try:
            yield
        finally:
            self._local.depth -= 1
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._fds_lock:
            fds, self._fds = self._fds, []
            self._generation += 1
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
