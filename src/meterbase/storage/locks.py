"""Cross-transaction locks that SQLite gets for free and PostgreSQL needs explicitly.

SQLite writers are serialised by ``BEGIN IMMEDIATE``. On PostgreSQL, ingest transactions take a
shared advisory lock per environment and meter creation an exclusive one, so a new meter's backfill
never misses events committed by an ingest that started before the meter existed.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text

_NAMESPACE = 0x6D62  # "mb"


def _key(environment: str) -> int:
    # pg_advisory_xact_lock(int, int) takes signed 32-bit keys; crc32 is unsigned (test_mode's is > 2**31).
    return zlib.crc32(environment.encode()) - 2**31


def meters_shared(conn, environment: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:ns, :k)"), {"ns": _NAMESPACE, "k": _key(environment)})


def meters_exclusive(conn, environment: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"), {"ns": _NAMESPACE, "k": _key(environment)})
