"""The Store: one object the API, CLI and SDK use to reach the database.

It owns transactions (what must commit together does), and turns the pure core's validated
values into rows. Every method takes the environment (``test_mode``/``live_mode``) explicitly.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy.engine import Connection

from ..errors import ValidationError
from ..events.model import Event
from ..events.validate import validate_batch
from ..meters.model import Meter, parse_meter_spec
from ..timeutil import Clock, now_us, system_clock
from ..eventstore import IngestResult
from . import dialect, fold, keys_repo, locks, meters_repo, migrate, usage
from .engine import is_sqlite, make_engines
from .backlog import Backlog
from .group_commit import GroupCommitter
from .retry import retry_transaction
from .sql_event_store import SqlEventStore, event_store_for
from .writer_lock import WriterLock

T = TypeVar("T")


def ingest_events_in(conn: Connection, environment: str, batch: list[Event], now: int) -> IngestResult:
    """Store validated events inside the caller's write transaction, through the event store.

    The one ingest code path: :meth:`Store.ingest_events` wraps it in its own transaction; the policy
    engine calls it inside the transaction that also updates its counters, so both commit together.
    Only events are written; the folder moves them into rollups later (``storage.fold``).
    """
    return event_store_for(conn).ingest(conn, environment, batch, now)


class Store:
    def __init__(self, url: str | None = None, clock: Clock = system_clock):
        self.write_engine, self.read_engine = make_engines(url)
        self.url = str(self.write_engine.url)
        self.clock = clock
        self._committer: GroupCommitter | None = None
        db = self.write_engine.url.database
        self._writer_lock = WriterLock(db) if is_sqlite(self.url) and db and db != ":memory:" else None
        # batched_write's writer (file SQLite only; its thread starts on first use)
        self._decisions = GroupCommitter(self._write_savepoints, 256, name="meterbase-batched-write") \
            if self._writer_lock is not None else None
        #: The event store (``meterbase.eventstore.EventStore``): events, fold, usage reads.
        self.events = SqlEventStore(self)
        self._folder: fold.Folder | None = None
        self._backlog: Backlog | None = None

    # -- plumbing -----------------------------------------------------------------------------
    def init_schema(self, migrate_schema: bool | None = None) -> None:
        """Bring the schema to the latest revision.

        ``None`` (the default) migrates SQLite automatically, but only checks PostgreSQL: a
        production schema changes on demand (``meterbase db upgrade``), not as a side effect of a
        server starting. ``True`` always migrates; ``False`` only checks.
        """
        if migrate_schema is None:
            migrate_schema = dialect.name(self.write_engine) == dialect.SQLITE
        if migrate_schema:
            migrate.upgrade(self.write_engine)
        else:
            migrate.ensure_current(self.write_engine)

    def now(self) -> int:
        return now_us(self.clock)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writer_lock.held() if self._writer_lock else nullcontext():
            with self.write_engine.begin() as conn:
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.read_engine.begin() as conn:
            yield conn

    @property
    def policy_cache(self):
        """The in-process cache of policy state (``storage.policy_cache``), created on first use."""
        from .policy_cache import attach

        return attach(self)

    def close(self) -> None:
        from .policy_cache import detach

        detach(self)
        if self._folder is not None:
            self._folder.stop()
            self._folder = None
        if self._committer is not None:
            self._committer.close()
            self._committer = None
        if self._decisions is not None:
            self._decisions.close()
        self.write_engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    # -- events -------------------------------------------------------------------------------
    def ingest(self, environment: str, raw_events: Any) -> IngestResult:
        """Validate a whole batch, then store it in one transaction (the folder rolls it up later); with a
        bounded backlog (:meth:`bound_backlog`), first wait while too many events await the folder."""
        events = validate_batch(raw_events, self.now())
        if self._backlog is not None:
            self._backlog.admit(environment)
        return self.ingest_events(environment, events)

    def bound_backlog(self, max_unfolded: int) -> None:
        """Ingest waits, then answers 429, while more than ``max_unfolded`` events await the folder
        (``storage.backlog``; only where a folder runs). 0 removes the bound."""
        self._backlog = Backlog(self, max_unfolded) if max_unfolded > 0 else None

    @property
    def backlog_bound(self) -> int | None:
        """The bound :meth:`bound_backlog` set (events awaiting the folder past which ingest waits), or None."""
        return self._backlog.bound if self._backlog is not None else None

    def ingest_events(self, environment: str, batch: list[Event]) -> IngestResult:
        if self._committer is not None:
            return self._committer.submit((environment, batch))
        return self._write_group([(environment, batch)])[0]

    def _write_group(self, batches: list[tuple[str, list[Event]]]) -> list[IngestResult]:
        """Store several batches in one transaction (in order); one result per batch."""

        def attempt() -> list[IngestResult]:
            with self.write() as conn:
                now = self.now()
                return [self.events.ingest(conn, env, batch, now) for env, batch in batches]

        return retry_transaction(attempt)

    def batched_write(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in a write transaction that, on SQLite, concurrent callers share.

        Small read-modify-write transactions (a policy ``allow``) are each a commit, an fsync, and on
        SQLite a turn at the one write lock. Here concurrent calls queue for one writer thread that runs
        them one after another in ONE transaction, each inside its own savepoint: they see each
        other's writes in order (a limit check after another call's consumption sees it), an exception
        rolls back only its own call and is raised to its caller, and everything returns after the
        shared commit. On PostgreSQL, where row locks let such transactions run side by side, ``fn``
        simply gets its own transaction.
        """
        if self._decisions is None:  # PostgreSQL, or in-memory SQLite
            with self.write() as conn:
                return fn(conn)
        result = self._decisions.submit(fn)
        if isinstance(result, _Raised):
            raise result.exc
        return result

    def _write_savepoints(self, fns: list[Callable[[Connection], Any]]) -> list[Any]:
        def attempt() -> list[Any]:
            out: list[Any] = []
            with self.write() as conn:
                for fn in fns:
                    try:
                        with conn.begin_nested():
                            out.append(fn(conn))
                    except Exception as exc:  # noqa: BLE001 - this call's own failure, raised to its caller
                        out.append(_Raised(exc))
            return out

        return retry_transaction(attempt)

    def enable_group_commit(self, max_events: int = 10_000) -> None:
        """Route ingest through one writer thread that commits concurrent batches together (servers)."""
        if self._committer is None:
            self._committer = GroupCommitter(self._write_group, max_events, size=lambda item: len(item[1]),
                                             gate=self._writer_lock.held if self._writer_lock else None)

    def start_folder(self, interval: float = 0.5) -> fold.Folder:
        """Fold events into rollups in a daemon thread of this process (servers; idempotent)."""
        if self._folder is None:
            self._folder = fold.Folder(self, interval).start()
        return self._folder

    @property
    def folder(self) -> fold.Folder | None:
        return self._folder

    def fold(self, environment: str | None = None) -> int:
        """Fold every event after the watermark now (one-shot catch-up); returns the events folded."""
        return fold.fold_all(self, environment)

    def watermark(self, environment: str) -> dict:
        """The fold watermark beside the latest stored seq (how far the folder is behind)."""
        with self.read() as conn:
            return {"environment": environment, "folded_seq": self.events.watermark(conn, environment),
                    "latest_seq": self.events.latest_seq(conn, environment)}

    def fold_lag(self, environment: str, cap: int, count_above: int = 0) -> dict:
        """:meth:`watermark` and ``unfolded``, the events awaiting the folder, in one read: counted (up to
        ``cap``) when ``latest_seq - folded_seq``, an upper bound since the modes share one seq order, is
        above ``count_above``; otherwise that upper bound itself."""
        with self.read() as conn:
            folded = self.events.watermark(conn, environment)
            latest = self.events.latest_seq(conn, environment)
            upper = max(0, latest - folded)
            unfolded = self.events.count_after(conn, environment, folded, cap) if upper > count_above else upper
        return {"environment": environment, "folded_seq": folded, "latest_seq": latest, "unfolded": unfolded}

    def get_event(self, environment: str, event_id: str) -> dict | None:
        with self.read() as conn:
            return self.events.get_event(conn, environment, event_id)

    def list_events(self, environment: str, **kw) -> list[dict]:
        with self.read() as conn:
            return self.events.list_events(conn, environment, **kw)

    def count_events(self, environment: str) -> int:
        with self.read() as conn:
            return self.events.count_events(conn, environment)

    # -- meters -------------------------------------------------------------------------------
    def create_meter(self, environment: str, raw: Any) -> Meter:
        spec = parse_meter_spec(raw)
        with self.write() as conn:
            locks.meters_exclusive(conn, environment)
            meter = meters_repo.insert_meter(conn, environment, spec, self.now())
            self.events.backfill_meter(conn, meter)
        return meter

    def get_meter(self, environment: str, meter_id: str) -> Meter:
        with self.read() as conn:
            return meters_repo.get_meter(conn, environment, meter_id)

    def list_meters(self, environment: str, archived: bool | None = False, limit: int = 100, offset: int = 0) -> list[Meter]:
        with self.read() as conn:
            return meters_repo.list_meters(conn, environment, archived, limit, offset)

    def set_archived(self, environment: str, meter_id: str, archived: bool) -> Meter:
        with self.write() as conn:
            return meters_repo.set_archived(conn, environment, meter_id, archived, self.now())

    def update_meter(self, environment: str, meter_id: str, changes: dict) -> Meter:
        with self.write() as conn:
            return meters_repo.update_meter_labels(conn, environment, meter_id, changes, self.now())

    # -- usage --------------------------------------------------------------------------------
    def usage(
        self,
        environment: str,
        meter_id: str,
        start: int,
        end: int,
        window: str = "day",
        tz: str = "UTC",
        customer_id: str | None = None,
        group_by: list[str] | None = None,
    ) -> usage.UsageResult:
        if group_by and len(group_by) > usage.MAX_GROUP_KEYS:
            raise ValidationError(f"group by at most {usage.MAX_GROUP_KEYS} metadata keys", "group_by")
        with self.read() as conn:
            meter = meters_repo.get_meter(conn, environment, meter_id)
            return self.events.usage(conn, meter, start, end, window, tz, customer_id, group_by)

    def meter_total(self, environment: str, meter_id: str, customer_id: str, start: int, end: int):
        """Exact partial of one meter for one customer over ``[start, end)`` (any instants)."""
        with self.read() as conn:
            meter = meters_repo.get_meter(conn, environment, meter_id)
            return self.events.meter_total(conn, meter, start, end, customer_id)

    # -- keys ---------------------------------------------------------------------------------
    def create_key(self, name: str, environment: str, read_only: bool = False) -> tuple[str, keys_repo.ApiKey]:
        with self.write() as conn:
            return keys_repo.create_key(conn, name, environment, self.now(), read_only)

    def find_key(self, token: str) -> keys_repo.ApiKey | None:
        with self.read() as conn:
            return keys_repo.find_key(conn, token)

    def list_keys(self) -> list[keys_repo.ApiKey]:
        with self.read() as conn:
            return keys_repo.list_keys(conn)

    def revoke_key(self, key_id: str) -> None:
        with self.write() as conn:
            keys_repo.revoke_key(conn, key_id, self.now())


class _Raised:
    """An exception a batched call raised, carried back to its own caller."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


def open_store(url: str | None = None, clock: Clock = system_clock, migrate_schema: bool | None = None) -> Store:
    """A Store with its schema current (see :meth:`Store.init_schema`)."""
    store = Store(url, clock)
    try:
        store.init_schema(migrate_schema)
    except Exception:
        store.close()
        raise
    return store
