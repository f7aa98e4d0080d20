"""The storage floor: what the database itself takes to store the ingest benchmark's bodies.

The same 1000-event bodies meterbase ingests, parsed with ``orjson`` and written to a minimal table
(``event_id TEXT PRIMARY KEY``, customer, name, timestamp, metadata, one ``(customer, name, ts)``
index), one durable transaction per body, one thread:

* SQLite: WAL, ``synchronous=FULL``, ``INSERT OR IGNORE`` through ``executemany``;
* PostgreSQL: ``executemany … ON CONFLICT DO NOTHING`` (psycopg 3 pipelines it).

No validation, no deduplication report, no rollups: a ceiling no metering engine reaches, measured in
the same run as meterbase so the ratio between the two is what a noisy machine cannot fake.
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


def sqlite_floor(bodies: list[bytes], path: Path) -> float:
    """Events per second of the SQLite floor over ``bodies`` (a new database file at ``path``)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for ddl in _DDL:
            conn.execute(ddl)
        n = 0
        t0 = time.perf_counter()
        for body in bodies:
            rows = _rows(body)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO floor_events VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            n += len(rows)
        return n / (time.perf_counter() - t0)
    finally:
        conn.close()


def postgresql_floor(bodies: list[bytes], url: str) -> float:
    """Events per second of the PostgreSQL floor over ``bodies`` (tables created in the database at ``url``)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.transaction():
            for ddl in _DDL:
                conn.execute(ddl)
        n = 0
        t0 = time.perf_counter()
        for body in bodies:
            rows = _rows(body)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO floor_events VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
            n += len(rows)
        elapsed = time.perf_counter() - t0
        with conn.transaction():
            conn.execute("DROP TABLE floor_events")
        return n / elapsed


def measure(backend: str, bodies: list[bytes], tmp: Path, url: str | None = None) -> float:
    """The floor on ``backend``; PostgreSQL needs ``url`` (an empty database the caller drops)."""
    if backend == "sqlite":
        return sqlite_floor(bodies, tmp / f"floor-{time.monotonic_ns()}.db")
    return postgresql_floor(bodies, url)
