"""Allocation of event ``seq`` numbers ahead of the insert.

Rows are inserted in ``event_id`` order (one lock order on the unique index, so concurrent
PostgreSQL batches cannot deadlock), while ``seq`` must follow submission order (``last`` breaks
timestamp ties by it). So seqs are allocated first, in submission order, and inserted explicitly.
"""

from __future__ import annotations

from . import dialect
from .schema import events


def allocate(conn, n: int) -> list[int]:
    """``n`` increasing, unused seq values (gaps are harmless); see :func:`.dialect.allocate_seqs`."""
    return dialect.allocate_seqs(conn, events, n)
