"""Allocation of event ``seq`` numbers ahead of the insert.

Rows are inserted in ``event_id`` order (one lock order on the unique index, so concurrent
PostgreSQL batches cannot deadlock), while ``seq`` must follow submission order (``last`` breaks
timestamp ties by it). So seqs are allocated first, in submission order, and inserted explicitly.
"""

from __future__ import annotations

from sqlalchemy import func, select, text

from .schema import events


_MAX_SEQ = select(func.coalesce(func.max(events.c.seq), 0))


def allocate(conn, n: int) -> list[int]:
    """``n`` increasing, unused seq values (gaps are harmless)."""
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('events', 'seq')) FROM generate_series(1, :n)"), {"n": n}
        )
        return sorted(v for (v,) in rows)
    # SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so MAX(seq) cannot move under us
    base = conn.execute(_MAX_SEQ).scalar_one()
    return list(range(base + 1, base + n + 1))
