"""The storage floor: what the database itself takes to store the ingest benchmark's bodies.

The same 1000-event bodies meterbase ingests, parsed with ``orjson`` and written to a minimal table
(``event_id TEXT PRIMARY KEY``, customer, name, timestamp, metadata, one ``(customer, name, ts)``
index), one durable transaction per body, one thread:

* SQLite: WAL, ``synchronous=FULL``, ``INSERT OR IGNORE`` through ``executemany``;
* PostgreSQL: ``executemany … ON CONFLICT DO NOTHING`` (psycopg 3 pipelines it).

No validation, no deduplication report, no rollups: a ceiling no metering engine reaches. The ingest
benchmarks interleave it with meterbase body by body (``bench.ingest_phases``), so both see the same
machine load and the ratio between them is what a noisy machine cannot fake.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson

_DDL = ("CREATE TABLE floor_events (event_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, event_name TEXT NOT NULL, "
        "ts TEXT NOT NULL, metadata TEXT NOT NULL)",
        "CREATE INDEX ix_floor_cnt ON floor_events (customer_id, event_name, ts)")


def _rows(body: bytes) -> list[tuple]:
    dumps = orjson.dumps
    return [(e["event_id"], e["customer_id"], e["event_name"], e["timestamp"], dumps(e.get("metadata") or {}).decode())
            for e in orjson.loads(body)["events"]]


class SqliteFloor:
    """The SQLite floor in a database file of its own: ``write(body)`` stores one body in one durable transaction."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        for ddl in _DDL:
            self.conn.execute(ddl)

    def write(self, body: bytes) -> int:
        rows = _rows(body)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT OR IGNORE INTO floor_events VALUES (?, ?, ?, ?, ?)", rows)
        self.conn.execute("COMMIT")
        return len(rows)

    def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    """The PostgreSQL floor in a table of its own in the database at ``url`` (dropped by :meth:`close`)."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        with self.conn.transaction():
            for ddl in _DDL:
                self.conn.execute(ddl)

    def write(self, body: bytes) -> int:
        rows = _rows(body)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany("INSERT INTO floor_events VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
        return len(rows)

    def close(self) -> None:
        with self.conn.transaction():
            self.conn.execute("DROP TABLE floor_events")
        self.conn.close()


def open_floor(backend: str, tmp: Path, url: str | None = None):
    """The floor on ``backend``; PostgreSQL needs ``url`` (a database the caller owns)."""
    if backend == "sqlite":
        return SqliteFloor(tmp / f"floor-{time.monotonic_ns()}.db")
    return PostgresFloor(url)


def measure(backend: str, bodies: list[bytes], tmp: Path, url: str | None = None) -> float:
    """Events per second of the floor over ``bodies`` alone."""
    floor = open_floor(backend, tmp, url)
    try:
        n = 0
        t0 = time.perf_counter()
        for body in bodies:
            n += floor.write(body)
        return n / (time.perf_counter() - t0)
    finally:
        floor.close()
