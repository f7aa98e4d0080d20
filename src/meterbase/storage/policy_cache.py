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

This module holds the views and the invalidation logic; the freshness sources are one file per dialect:
:mod:`.policy_cache_sqlite` (``data_version`` probes) and :mod:`.policy_cache_pg` (the LISTEN thread).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import orjson

from .policy_cache_pg import CHANNEL, NOTIFY as _NOTIFY, Listener as _Listener, log
from .policy_cache_sqlite import DataVersion as _DataVersion, sqlite_path as _sqlite_path

MAX_CUSTOMERS = 100_000  # per environment view; beyond that the view starts over (bounded memory)
MAX_DIRTY = 10_000  # invalidation marks kept per view before it is replaced instead


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


def announce(conn: Any, environment: str, customer_id: str | None = None) -> None:
    """Another domain's write changes what a policy decision of ``customer_id`` (None: anyone in the environment)
    reads — the credit ledger's covering balance: tell every process's cache, in the caller's transaction.
    PostgreSQL only; SQLite caches already see every commit (``PRAGMA data_version``)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"payload": orjson.dumps(["external", environment, customer_id]).decode()})


def forget(store: Any, environment: str, customer_id: str | None = None) -> None:
    """Drop ``customer_id`` (None: the environment) from ``store``'s cache, if it has one, right after a commit
    that :func:`announce` d it (this process's reads must not wait for the notification)."""
    cache = store.__dict__.get("_policy_cache")
    if cache is not None:
        cache.invalidate(environment, customer_id)


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
