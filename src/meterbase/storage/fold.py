"""The folder: events after the watermark go into the rollups, in large sorted chunks, off the ack path.

Ingest writes only events (the durable log). Folding one chunk of an environment is ONE transaction:

1. take the fold lock (PostgreSQL: an exclusive advisory lock per environment, bounded by a lock
   timeout; SQLite: the one write lock the transaction already holds), so one folder runs at a time
   even with several server processes, and meter creation waits for it;
2. read the watermark, then up to ``max_events`` events with ``watermark < seq <= high water`` in seq
   order (the high water is a seq at or below which every event is committed: on PostgreSQL seqs
   commit out of order, see ``events_repo``/``credit_feed``);
3. accumulate them per meter/grain/customer/bucket (``rollups.accumulate``: each event folds once into
   its hour partial, days are merged from the hours), upsert the partials sorted by key (one lock
   order), add the chunk's event names to ``event_names``, and set the watermark to the last seq read,
   or to the high water when the chunk ran dry.

Steps 2-3's reading and accumulating, down to the sorted driver rows of the upserts, happen before the
write transaction, which then only checks the watermark and the meters are unchanged and runs the
statements (:func:`fold_environment`): the write lock (SQLite, which ingest waits for) or the fold lock
(PostgreSQL, which usage reads wait for) is held for the upserts alone.

So the rollups always hold exactly the events with ``seq <= watermark``; a crash rolls the chunk back
whole and folding again adds nothing twice. Usage reads (``storage.usage``) add the raw events after
the watermark, reading it and the rollups in one consistent view (a snapshot on SQLite; on PostgreSQL
the shared side of the fold lock, which a folder's commit cannot cross).

:class:`Folder` runs :func:`fold` in a daemon thread of a server process; ``meterbase events fold``
runs it once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager, nullcontext

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from . import dialect, events_repo, locks, meters_repo, rollups
from .schema import events as te
from .schema_eventstore import event_fold as tf, event_names as tn

log = logging.getLogger("meterbase.fold")

#: Events per fold transaction: large enough to amortise the upserts, small enough that the write lock
#: (SQLite) or the fold lock (PostgreSQL usage reads), held for the upserts only, is held for a fraction of a
#: second (≈ 7-12 ms per 1000 events of the benchmark's 6 meters on SQLite, 40 on PostgreSQL). A round
#: every second under load folds chunks of a second of ingest: measured beside 10k chunks every 0.5 s,
#: +8-9 % SQLite HTTP ingest (the folder shares the cores; a larger chunk writes fewer rows per event).
CHUNK = 20_000
#: How long a PostgreSQL folder waits for the fold lock (usage reads, a meter's backfill) before it
#: gives the round up and tries again later.
LOCK_TIMEOUT_MS = 2_000


def watermark(conn, environment: str) -> int:
    found = conn.execute(select(tf.c.last_seq).where(tf.c.environment == environment)).scalar()
    return 0 if found is None else found


def _lock_watermark(conn, environment: str, now: int) -> int:
    conn.execute(dialect.insert(conn, tf).values(environment=environment, last_seq=0, updated_at=now)
                 .on_conflict_do_nothing(index_elements=["environment"]))
    return conn.execute(select(tf.c.last_seq).where(tf.c.environment == environment).with_for_update()).scalar_one()


def _set_watermark(conn, environment: str, seq: int, now: int) -> None:
    conn.execute(update(tf).where(tf.c.environment == environment).values(last_seq=seq, updated_at=now))


def environments(conn) -> list[str]:
    """Environments with events: a loose index scan (one short statement per environment)."""
    found: list[str] = []
    while True:
        q = select(func.min(te.c.environment))
        if found:
            q = q.where(te.c.environment > found[-1])
        env = conn.execute(q).scalar()
        if env is None:
            return found
        found.append(env)


def high_water(store, environment: str) -> int:
    """A seq at or below which every event of ``environment`` is committed (a short transaction)."""
    if not dialect.is_postgresql(store.write_engine):
        return 2**62  # SQLite: one writer at a time, and the folder's transaction is that writer
    with store.write_engine.begin() as conn:
        locks.meters_exclusive(conn, environment)  # waits for ingests that allocated seqs, briefly
        return events_repo.latest_seq(conn, environment)


def read_chunk(conn, environment: str, mark: int, upto: int, max_events: int, by_name=None):
    """Read and accumulate the chunk after ``mark``: ``(rollup rows, event names, events read, last seq
    covered)``, everything ready for :func:`_write_chunk` (the sorted rows of ``rollups.rows``, or ``None``
    when the chunk has nothing to roll up).

    Meters are looked up once for the environment (``by_name``: already looked up); only the events of
    names some rolled-up meter counts are folded, and only the metadata some meter reads (a key or a
    filter) is decoded.
    """
    if by_name is None:
        by_name = meters_repo.meters_by_event_name(conn, environment)
    rows = events_repo.fold_rows(conn, environment, mark, upto, max_events)
    partials, distinct = {}, set()
    if rows and by_name:
        decode = {name for name, ms in by_name.items() if any(m.agg.needs_key or m.spec.filter for m in ms)}
        loads = orjson.loads
        partials, distinct = rollups.accumulate(by_name, (
            (seq, cust, name, ts, loads(meta) if name in decode else None) for seq, cust, name, ts, meta in rows))
    last = rows[-1][0] if len(rows) == max_events else min(upto, max(mark, events_repo.latest_seq(conn, environment)))
    names = [{"environment": environment, "event_name": name} for name in sorted({row[2] for row in rows})]
    return rollups.rows(conn, by_name, partials, distinct) if partials or distinct else None, names, len(rows), last


def _write_chunk(conn, environment: str, chunk, mark: int, now: int) -> int:
    """Write a chunk of :func:`read_chunk` and move the watermark: statements only (no Python folding)."""
    rollup_rows, names, n, last = chunk
    if rollup_rows is not None:
        rollups.write_rows(conn, rollup_rows)
    if names:
        conn.execute(dialect.insert(conn, tn).on_conflict_do_nothing(), names)
    if last > mark:
        _set_watermark(conn, environment, last, now)
    return n


def fold_chunk(conn, environment: str, upto: int, now: int, max_events: int = CHUNK) -> int:
    """Fold up to ``max_events`` events after the watermark (``seq <= upto``) inside ``conn``'s transaction,
    which must hold the fold lock. Returns the events read."""
    mark = _lock_watermark(conn, environment, now)
    if upto <= mark:
        return 0
    return _write_chunk(conn, environment, read_chunk(conn, environment, mark, upto, max_events), mark, now)


def _claim_path(store) -> str | None:
    """SQLite on a file: the fold claim next to the database (``None``: fold inside the write lock)."""
    url = store.write_engine.url
    if dialect.is_postgresql(store.write_engine) or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return url.database + "-fold.lock"


def _claimed(claim: str | None):
    """SQLite on a file: an ``flock`` on ``claim`` (folders of several processes take turns, so they never
    read the same chunk twice); otherwise nothing (PostgreSQL folders recheck under the fold lock)."""
    if claim is None:
        return nullcontext()
    return _flock(claim)


@contextmanager
def _flock(path: str):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def fold_environment(store, environment: str, upto: int, max_events: int = CHUNK) -> int:
    """Fold one chunk of ``environment`` (events with ``seq <= upto``): read and accumulate it outside any
    lock, then take the fold lock only to write it. Returns the events read.

    The lock that matters is held for the rollup writes alone: on SQLite the one write lock (which every
    ingest waits for), on PostgreSQL the exclusive fold lock (which usage reads wait for). In the write
    transaction the chunk is checked: if the watermark or the environment's meters moved since it was read
    (another folder, a new meter, whose backfill stops at the watermark), the chunk is folded again inside
    the lock. The chunk never passes ``upto`` (SQLite: one writer at a time, so events committed after the
    read have larger seqs; PostgreSQL: every event at or below the high water was committed before the
    read began), so the watermark set from it never passes an event it did not read.
    """
    with _claimed(_claim_path(store)):
        with store.read() as conn:
            mark = watermark(conn, environment)
            if upto <= mark:
                return 0
            by_name = meters_repo.meters_by_event_name(conn, environment)
            chunk = read_chunk(conn, environment, mark, upto, max_events, by_name)
        with store.write() as conn:
            if dialect.is_postgresql(conn):
                dialect.lock_timeout(conn, LOCK_TIMEOUT_MS)
                locks.fold_exclusive(conn, environment)
            now = store.now()
            if _lock_watermark(conn, environment, now) != mark \
                    or meters_repo.meters_by_event_name(conn, environment) != by_name:
                return fold_chunk(conn, environment, upto, now, max_events)
            return _write_chunk(conn, environment, chunk, mark, now)


def fold(store, environment: str | None = None, max_events: int = CHUNK) -> int:
    """Fold one chunk of each environment (or of ``environment``); returns the events folded.

    Each chunk is its own transaction; a PostgreSQL folder that cannot get the fold lock within
    ``LOCK_TIMEOUT_MS`` (another folder, a long usage read) skips the environment this round.
    """
    with store.read() as conn:
        envs = [environment] if environment else environments(conn)
        # nothing after the watermark: no write lock, no advisory lock (an idle folder only reads)
        envs = [env for env in envs if events_repo.latest_seq(conn, env) > watermark(conn, env)]
    total = 0
    for env in envs:
        try:
            total += fold_environment(store, env, high_water(store, env), max_events)
        except DBAPIError as exc:
            if not dialect.is_postgresql(store.write_engine):
                raise
            log.info("fold of %s skipped this round: %s", env, str(exc).splitlines()[0])
    return total


def fold_all(store, environment: str | None = None, max_events: int = CHUNK) -> int:
    """Fold until nothing is left after the watermark (a one-shot catch-up: CLI, tests, benchmarks)."""
    total = 0
    while True:
        n = fold(store, environment, max_events)
        total += n
        if n < max_events:
            return total


class Folder:
    """Folds every ``interval`` seconds, at once again while chunks come back full: in a daemon thread of a
    server process (:meth:`start`), or driving a process of its own (``storage.fold_process``, :meth:`run`).

    While chunks come back full (the folder is behind) each round's chunk doubles, up to
    ``GROWTH`` times ``max_events``: a larger chunk holds more events of the same meter, customer and hour,
    so it writes fewer rollup rows per event; back to ``max_events`` once a chunk comes back short.
    """

    GROWTH = 2

    def __init__(self, store, interval: float = 0.5, max_events: int = CHUNK, stop: threading.Event | None = None):
        self.store = store
        self.interval = interval
        self.max_events = max_events
        self._stop = stop or threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Folder":
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="meterbase-folder", daemon=True)
            self._thread.start()
        return self

    def pause(self) -> None:
        """Stop folding until :meth:`resume` (tests: reads must stay exact with an unfolded tail)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run(self, keep_going=lambda: True, after_round=lambda n: None) -> None:
        """Fold rounds until :meth:`stop` or ``keep_going()`` is false; ``after_round(events folded)`` after
        each (a failed round is logged and retried: reads stay exact meanwhile)."""
        size = self.max_events
        while not self._stop.is_set() and keep_going():
            n = 0
            if not self._paused.is_set():
                try:
                    n = fold(self.store, max_events=size)
                    after_round(n)
                except Exception:  # noqa: BLE001 - a failed round is retried; reads stay exact meanwhile
                    log.exception("fold round failed")
            if n < size:
                size = self.max_events
                self._stop.wait(self.interval)
            else:
                size = min(2 * size, self.GROWTH * self.max_events)
