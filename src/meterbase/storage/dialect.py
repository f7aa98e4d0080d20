"""The SQLite/PostgreSQL differences of storage, in one place (issue 16).

Every branch on the connection's backend that the event store, the folder, rollups, usage reads,
the credit feed, group commit and the upsert helper need lives here, so a reader sees at once what
differs between the backends (and a third backend knows what it must provide):

* ``insert`` — the backend's ``INSERT … ON CONFLICT`` construct;
* ``allocate_seqs`` — event seq numbers ahead of the insert (a sequence on PostgreSQL, ``MAX(seq)``
  under SQLite's one write lock);
* ``advisory_lock`` / ``try_advisory_lock`` — transaction-scoped advisory locks (PostgreSQL); on
  SQLite the one write lock (``BEGIN IMMEDIATE`` + ``WriterLock``) already serialises every writer and
  reads are snapshots, so these are no-ops;
* ``lock_timeout`` — bound a PostgreSQL transaction's lock waits;
* ``lock_rows`` — ``SELECT … FOR UPDATE`` on PostgreSQL (SQLite's write transactions are serialised);
* ``snapshot_options`` — the isolation a multi-query read needs to see one state (``REPEATABLE READ``
  on PostgreSQL; SQLite's WAL reads already are snapshots);
* ``seq_range_from`` — read the unfolded tail (``seq > watermark``) through the seq order, not an index
  over all events, whatever the planner's statistics;
* ``decimal_param`` — how an exact decimal is handed to the driver;
* ``placeholder`` — the driver's positional parameter marker.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from .types import decimal_param as _decimal_param

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def name(conn) -> str:
    return conn.dialect.name


def is_postgresql(conn) -> bool:
    return conn.dialect.name == POSTGRESQL


def insert(conn, table: Table):
    """``INSERT`` supporting ``on_conflict_do_nothing/do_update`` for the connection's backend."""
    return postgresql.insert(table) if is_postgresql(conn) else sqlite.insert(table)


def allocate_seqs(conn, events_table: Table, n: int) -> list[int]:
    """``n`` increasing, unused ``events.seq`` values (gaps are harmless)."""
    if n == 0:
        return []
    if is_postgresql(conn):
        # one row holding an array: a thousand seqs cost one small answer, not a thousand rows
        # the sequence is looked up once per statement (a scalar subquery), not once per value
        (values,) = conn.exec_driver_sql(
            "SELECT array_agg(v ORDER BY v) FROM (SELECT nextval((SELECT pg_get_serial_sequence('events', 'seq'))) AS v "
            "FROM generate_series(1, %(n)s)) AS s", {"n": n}).one()
        return list(values)
    # SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so MAX(seq) cannot move under us
    base = conn.execute(select(func.coalesce(func.max(events_table.c.seq), 0))).scalar_one()
    return list(range(base + 1, base + n + 1))


_NAMESPACE = 0x6D62  # "mb"


def lock_key(label: str) -> int:
    """A signed 32-bit advisory-lock key for ``label`` (crc32 is unsigned)."""
    return zlib.crc32(label.encode()) - 2**31


def advisory_lock(conn, ns: int, label: str, shared: bool = False) -> None:
    """Wait for a transaction-scoped advisory lock (PostgreSQL; SQLite's write lock already serialises)."""
    if is_postgresql(conn):
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(text(f"SELECT {fn}(:ns, :k)"), {"ns": ns, "k": lock_key(label)})


def try_advisory_lock(conn, ns: int, label: str) -> bool:
    """Take an exclusive transaction-scoped advisory lock if free (always True on SQLite)."""
    if not is_postgresql(conn):
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:ns, :k)"), {"ns": ns, "k": lock_key(label)}).scalar())


def lock_timeout(conn, ms: int) -> None:
    """Give up lock waits after ``ms`` in this transaction (PostgreSQL; SQLite has its busy timeout)."""
    if is_postgresql(conn):
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(ms)}ms'")


def lock_rows(conn, stmt) -> None:
    """Lock the rows ``stmt`` selects until the transaction ends (PostgreSQL ``FOR UPDATE``; on SQLite
    the caller's write transaction already excludes every other writer)."""
    if is_postgresql(conn):
        conn.execute(stmt.with_for_update()).all()


def snapshot_options(engine) -> dict | None:
    """Execution options giving a read transaction one state of the database for all its queries, or
    None when the backend's reads already do (SQLite in WAL mode)."""
    return {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == POSTGRESQL else None


def seq_range_from(conn) -> tuple[str, str]:
    """``(FROM source, condition)`` selecting the events with ``seq > :after`` through the seq order whatever
    the planner's statistics say (the unfolded tail must cost what the tail holds, not what the environment
    holds): SQLite reads the rowid range (``NOT INDEXED``); PostgreSQL a subquery on the primary key fenced
    with ``OFFSET 0`` (never flattened into the outer filters, which could pick an environment index)."""
    if is_postgresql(conn):
        return "(SELECT * FROM events WHERE seq > :after OFFSET 0) AS events", "TRUE"
    return "events NOT INDEXED", "seq > :after"


def decimal_param(conn):
    """How an exact decimal is handed to the driver directly: NUMERIC on PostgreSQL, text on SQLite."""
    return _decimal_param(conn.dialect.name)


def placeholder(conn) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"
