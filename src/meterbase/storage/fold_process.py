"""The folder as a process of its own: what ``meterbase serve`` runs beside its HTTP workers.

A folder thread inside a request-serving process shares that process's GIL with the ingest writer:
while the folder accumulates a chunk in Python, the thread holding the database write lock for an
ingest gets the GIL back only between rows, and every other writer waits on the lock meanwhile
(measured on SQLite: 8.2k events/s over HTTP with the folder as a worker thread, 10.2k with it in a
process of its own, the same fold work done). So a server runs one :class:`FolderProcess`: a child
interpreter that only folds (:func:`run`), restarted when it dies, stopped with the server.

On SQLite the same process also checkpoints the write-ahead log (:func:`checkpoint`), a PASSIVE
checkpoint that never takes the write lock, so ingest commits rarely have to checkpoint themselves.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from . import dialect

log = logging.getLogger("meterbase.fold")

#: Seconds the supervisor waits before restarting a folder process that died (doubling up to a minute).
RESTART_DELAY = 1.0
#: WAL pages above which the folder process runs a passive checkpoint after its round (SQLite).
CHECKPOINT_PAGES = 4_096


def checkpoint(store) -> tuple[int, int] | None:
    """A PASSIVE WAL checkpoint (SQLite): copies committed pages back to the database without the write
    lock. Returns ``(WAL frames, frames checkpointed)``, or None on PostgreSQL."""
    if dialect.is_postgresql(store.write_engine):
        return None
    raw = store.read_engine.raw_connection()  # outside any transaction (the driver is in autocommit mode)
    try:
        _busy, frames, done = raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    return frames, done


def run(url: str, interval: float, stop: threading.Event | None = None, parent: int | None = None) -> None:
    """Fold (and on SQLite checkpoint) every ``interval`` seconds until SIGTERM, ``stop``, or the process
    ``parent`` (the server that started us) is gone."""
    from . import fold
    from .store import Store

    folder = fold.Folder(Store(url), interval, stop=stop)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: folder.stop())  # the supervisor's stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops us
    frames = CHECKPOINT_PAGES

    def after_round(n: int) -> None:
        nonlocal frames
        if frames >= CHECKPOINT_PAGES or n == 0:
            found = checkpoint(folder.store)
            frames = found[0] - found[1] if found else 0
        else:
            frames += n  # about a WAL page per event ingested

    try:
        # a server killed outright leaves no orphan folding (its pid was passed: it may be gone before we start)
        folder.run(keep_going=lambda: parent is None or os.getppid() == parent, after_round=after_round)
    finally:
        folder.store.close()


class FolderProcess:
    """Runs :func:`run` in a child process (``python -m meterbase.storage.fold_process``: it imports the
    storage package only, ≈ 1 s of CPU, not the CLI a ``multiprocessing`` spawn would re-import) and restarts
    it if it exits before :meth:`stop`. The database URL goes through the environment, not the command line
    (where ``ps`` would show a password)."""

    def __init__(self, url: str, interval: float):
        self.url = url
        self.interval = interval
        self._proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.interval), str(os.getpid())],
            env={**os.environ, "MB_DATABASE_URL": self.url}, stdin=subprocess.DEVNULL)

    def start(self) -> "FolderProcess":
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="meterbase-folder-watch", daemon=True)
        self._watcher.start()
        return self

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _watch(self) -> None:
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            proc = self._proc
            try:
                code = proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            if self._stopping.is_set():
                return
            log.error("folder process %s exited with %s; restarting in %.0f s", proc.pid, code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 60.0)
            self.restarts += 1
            self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: the round in progress finishes or rolls back whole
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def main(argv: list[str] | None = None) -> None:
    """``python -m meterbase.storage.fold_process INTERVAL PARENT_PID`` (database: ``MB_DATABASE_URL``)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(os.environ["MB_DATABASE_URL"], float(args[0]), parent=int(args[1]))


if __name__ == "__main__":
    main()
