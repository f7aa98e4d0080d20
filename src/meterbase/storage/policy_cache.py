"""In-process cache of policy state, shared by every ``PolicyService`` on one :class:`Store`.

Per environment a :class:`View` holds what a read-only decision needs: customer rows (plan, anchor),
their counters ``(entitlement, period_start) -> (used, overage)``, the active document and whatever
the service memoises per customer. A view is served only while it is provably fresh:

* **SQLite** — exact. One raw ``sqlite3`` connection to the same file answers ``PRAGMA data_version``
  (a few µs), which changes whenever *any other* connection commits (another process, or this
  process's own pool). Every :meth:`PolicyCache.view` call probes it first; a changed value drops all
  views, so data filled after a probe is served only while no commit has happened since that probe.
  The flip side: *every* commit invalidates, ingest included, so under a steady stream of writes the
  cache mostly reads through (correctness never depends on what was written).
* **PostgreSQL** — bounded. Every transaction that changes policy state announces it with
  ``pg_notify('meterbase_policy', …)`` (:meth:`Changes.changed`); a daemon thread per cache LISTENs
  and drops the changed customer (or the whole environment, for a new document). Views are served
  only while that listener is connected *and has nothing unread*: readers poll its socket (~1 µs),
  so a notification that arrived while the listener thread waits for the GIL already sends reads to
  the database. When the listener drops, reads go to the database until it is back (with fresh,
  empty views). So a check in another process may see a commit late by the notification's delivery
  time (locally it is usually in the socket before the writer's commit call has returned), which a
  read-only check cannot tell from a commit that landed just after it anyway: ``allow()`` is the
  authority and always decides under the row lock. Writes that bypass ``PolicyService``
  (hand-written SQL) are not announced and stay invisible to cached reads until the listener
  reconnects.
* **In-memory SQLite** — not cached (every pooled connection would be its own database anyway).

This process's own writes invalidate the customer (or environment) as soon as they commit (see
:meth:`PolicyCache.writing`); PostgreSQL notifications carry a per-cache token so the listener
skips the ones it already applied.

A fill that read the database after another thread's invalidation of the same customer must not
resurrect stale rows: fills take a :meth:`View.mark` *before* reading and :meth:`View.put_customer`
refuses rows of a customer invalidated since that mark.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import selectors
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
from sqlalchemy import text

log = logging.getLogger("meterbase.policy.cache")

CHANNEL = "meterbase_policy"
MAX_CUSTOMERS = 100_000  # per environment view; beyond that the view starts over (bounded memory)
MAX_DIRTY = 10_000  # invalidation marks kept per view before it is replaced instead
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


class CustomerEntry:
    """One customer's cached row, counters and the service's memo (all dropped together)."""

    __slots__ = ("row", "counters", "memo")

    def __init__(self, row: Any):
        self.row = row
        self.counters: dict[tuple[str, int], tuple[Any, Any]] = {}
        self.memo: dict[Any, Any] = {}


class View:
    """Cached policy state of one environment, valid as long as :class:`PolicyCache` hands it out."""

    __slots__ = ("customers", "document", "_seq", "_dirty", "_lock")

    def __init__(self, lock: threading.Lock):
        self.customers: dict[str, CustomerEntry] = {}
        self.document: Any = None  # the service's (version, parsed policy) of the active document
        self._seq = 0
        self._dirty: dict[str, int] = {}  # customer -> _seq of its last invalidation
        self._lock = lock

    def mark(self) -> int:
        """Take before reading the database for a fill (see :meth:`put_customer`)."""
        return self._seq

    def put_customer(self, mark: int, row: Any) -> CustomerEntry | None:
        """Cache ``row`` read after ``mark``; None (not cached) if the customer changed since."""
        with self._lock:
            if self._dirty.get(row.customer_id, 0) > mark:
                return None
            entry = self.customers.get(row.customer_id)
            if entry is None or entry.row != row:
                if len(self.customers) >= MAX_CUSTOMERS:
                    self.customers.clear()
                entry = self.customers[row.customer_id] = CustomerEntry(row)
            return entry

    def put_counter(self, entry: CustomerEntry, key: tuple[str, int], value: tuple[Any, Any]) -> None:
        with self._lock:
            if self.customers.get(entry.row.customer_id) is entry:
                entry.counters[key] = value

    def _drop(self, customer_id: str) -> bool:
        """Forget ``customer_id`` (caller holds the lock); False when the view should be replaced instead."""
        if len(self._dirty) >= MAX_DIRTY:
            return False
        self._seq += 1
        self._dirty[customer_id] = self._seq
        self.customers.pop(customer_id, None)
        return True


class PolicyCache:
    """The per-Store cache (see the module docstring); obtain it as ``store.policy_cache``."""

    def __init__(self, store: Any):
        self._store = store
        self._lock = threading.Lock()
        self._views: dict[str, View] = {}
        self.sender = secrets.token_hex(8)  # tags this cache's own notifications
        self._pid = os.getpid()  # a forked child has neither the listener thread nor usable connections
        self._synced: str | None = None  # the last sync() marker the listener applied
        url = store.write_engine.url  # not store.url: its text hides the password
        self.announces = url.get_backend_name() == "postgresql"  # writes pg_notify their changes
        self._listener: _Listener | None = None
        self._source: _DataVersion | _Listener | None = None
        if url.get_backend_name() == "sqlite":
            path = _sqlite_path(url)
            self._source = None if path is None else _DataVersion(path, self._reset)
        elif self.announces:
            self._source = self._listener = _Listener(url.set(drivername="postgresql").render_as_string(hide_password=False), self)

    # -- reads ----------------------------------------------------------------------------------
    def view(self, environment: str) -> View | None:
        """The environment's view if the cache may be trusted right now, else None (read through).

        Lock-free unless the database changed: a view obtained after a fresh probe is valid for this
        call even if another thread drops it a moment later.
        """
        if not self._fresh():
            return None
        view = self._views.get(environment)
        if view is None:
            with self._lock:
                view = self._views.setdefault(environment, View(self._lock))
        return view

    def _fresh(self) -> bool:
        return os.getpid() == self._pid and self._source is not None and self._source.fresh()

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait until the cache serves and has applied every change committed before this call.

        PostgreSQL: once the listener is connected, a marker notification goes out; this returns when
        the listener has applied it (notifications arrive in commit order). False on timeout. For tests,
        and for callers that must see another Store's writes in their next read.
        """
        deadline = time.monotonic() + timeout
        marker = None
        while time.monotonic() <= deadline:
            if self._fresh() and (self._listener is None or (marker is not None and self._synced == marker)):
                return True
            if marker is None and self._listener is not None and self._listener.connected:
                marker = secrets.token_hex(8)
                with self._store.write() as conn:
                    conn.execute(_NOTIFY, {"payload": orjson.dumps([self.sender, None, marker]).decode()})
            time.sleep(0.001)
        return False

    # -- invalidation ---------------------------------------------------------------------------
    def invalidate(self, environment: str | None = None, customer_id: str | None = None) -> None:
        """Forget a customer, an environment (``customer_id`` None) or everything (both None)."""
        with self._lock:
            if environment is None:
                self._views = {}
                return
            view = self._views.get(environment)
            if view is not None and (customer_id is None or not view._drop(customer_id)):
                del self._views[environment]

    def _reset(self) -> None:
        self.invalidate()

    @contextmanager
    def _tracking(self, environment: str) -> Iterator["Changes"]:
        """Collect what a write changes; forget it here once the write has ended — also after a failed
        commit: whether it landed is unknown, and forgetting is always safe."""
        changes = Changes(self, environment)
        try:
            yield changes
        finally:
            for customer_id in changes.keys:
                self.invalidate(environment, customer_id)

    @contextmanager
    def writing(self, environment: str) -> Iterator["Changes"]:
        """``store.write()`` for policy state: what the block reports with :meth:`Changes.changed` is
        announced to other processes in the transaction and invalidated here once it has ended."""
        with self._tracking(environment) as changes, self._store.write() as conn:
            changes.conn = conn
            yield changes

    def run_write(self, environment: str, fn: Callable[["Changes"], Any]) -> Any:
        """Like :meth:`writing`, for a body given as ``fn(changes)`` and run by ``Store.batched_write``
        (on SQLite, concurrent calls share one transaction, each in its own savepoint)."""
        with self._tracking(environment) as changes:
            def body(conn) -> Any:
                changes.conn = conn
                changes.keys.clear()  # a retried transaction starts over
                return fn(changes)

            return self._store.batched_write(body)

    def _on_notify(self, payload: str) -> None:
        try:
            sender, environment, customer_id = orjson.loads(payload)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            log.warning("unexpected %s payload %r: dropping the policy cache", CHANNEL, payload)
            self.invalidate()
            return
        if environment is None:  # a sync() marker
            if sender == self.sender:
                self._synced = customer_id
        elif sender != self.sender:  # this cache's own writes were invalidated right after their commit
            self.invalidate(environment, customer_id)

    def close(self) -> None:
        """Stop serving (every later :meth:`view` is None) and release connections and the listener."""
        if os.getpid() != self._pid:  # a forked copy: the connections and the listener are the parent's
            return
        if self._source is not None:
            self._source.close()
        self._reset()


class Changes:
    """Collects what a policy write transaction changed (see :meth:`PolicyCache.writing`)."""

    def __init__(self, cache: PolicyCache, environment: str):
        self.cache, self.environment = cache, environment
        self.conn: Any = None
        self.keys: list[str | None] = []

    def changed(self, customer_id: str | None = None) -> None:
        """The customer's row or counters (None: the environment's document) change in this transaction."""
        if customer_id in self.keys:
            return
        self.keys.append(customer_id)
        if self.cache.announces:
            payload = orjson.dumps([self.cache.sender, self.environment, customer_id]).decode()
            self.conn.execute(_NOTIFY, {"payload": payload})


# ---------------------------------------------------------------------------------------------- SQLite


def _sqlite_path(url) -> str | None:
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


class _DataVersion:
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


# ---------------------------------------------------------------------------------------------- PostgreSQL


class _Listener:
    """A daemon thread that LISTENs on :data:`CHANNEL`, applies notifications and tells the cache when
    it (dis)connects; :meth:`fresh` says whether readers may trust the views right now."""

    PING_SECONDS = 10.0  # liveness query on an idle connection
    RETRY_SECONDS = 0.05  # first reconnection delay, doubling up to MAX_BACKOFF
    MAX_BACKOFF = 5.0

    def __init__(self, conninfo: str, cache: PolicyCache):
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


# ---------------------------------------------------------------------------------------------- lifecycle

_ATTACH_LOCK = threading.Lock()


def attach(store: Any) -> PolicyCache:
    """``store``'s cache, created on first use (``Store.policy_cache``)."""
    cache = store.__dict__.get("_policy_cache")
    if cache is None:
        with _ATTACH_LOCK:
            cache = store.__dict__.get("_policy_cache")
            if cache is None:
                cache = store.__dict__["_policy_cache"] = PolicyCache(store)
    return cache


def detach(store: Any) -> None:
    """Close ``store``'s cache, if it has one (``Store.close``)."""
    with _ATTACH_LOCK:
        cache = store.__dict__.pop("_policy_cache", None)
    if cache is not None:
        cache.close()
