"""The SQLite writer queue: Store.write() holds an exclusive flock that other processes see."""

from __future__ import annotations

import fcntl
import subprocess
import sys

from meterbase.storage import open_store
from meterbase.storage.writer_lock import WriterLock

_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


def _probe(path: str) -> str:
    """Ask another process whether it could take the lock right now."""
    return subprocess.run([sys.executable, "-c", _PROBE, path], capture_output=True, text=True, check=True).stdout.strip()


def test_a_write_transaction_holds_the_lock_other_processes_queue_on(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/q.db")
    try:
        lock_path = str(tmp_path / "q.db") + "-writer.lock"
        with store.write() as conn:
            conn.exec_driver_sql("SELECT 1")
            assert _probe(lock_path) == "held"
        assert _probe(lock_path) == "free"
        with store.read() as conn:  # readers never queue
            conn.exec_driver_sql("SELECT 1")
            assert _probe(lock_path) == "free"
    finally:
        store.close()


def test_reentry_on_one_thread_releases_at_the_outermost(tmp_path):
    lock = WriterLock(str(tmp_path / "r.db"))
    with lock.held():
        with lock.held():
            assert _probe(lock.path) == "held"
        assert _probe(lock.path) == "held"
    assert _probe(lock.path) == "free"
    lock.close()


def test_an_unusable_lock_file_falls_back_to_sqlite_locking(tmp_path):
    lock = WriterLock(str(tmp_path / "missing-dir" / "x.db"))
    with lock.held():  # cannot create the file: proceeds without the queue instead of failing writes
        pass
    lock.close()


def test_close_then_reuse_reopens(tmp_path):
    lock = WriterLock(str(tmp_path / "c.db"))
    with lock.held():
        pass
    lock.close()
    with lock.held():  # a fresh descriptor after close(), not the closed one
        fcntl.flock(lock._local.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # already ours: no error
        assert _probe(lock.path) == "held"
    assert _probe(lock.path) == "free"
    lock.close()


def test_a_forked_child_queues_behind_its_parent(tmp_path):
    """A child forked while its parent's thread had a descriptor must not share the parent's lock."""
    import os

    lock = WriterLock(str(tmp_path / "f.db"))
    with lock.held():
        pid = os.fork()
        if pid == 0:  # child: the parent holds the lock, so a non-blocking attempt must fail
            code = 1
            try:
                fd = lock._fd()
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lock.close()
