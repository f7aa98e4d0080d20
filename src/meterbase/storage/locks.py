"""Cross-transaction locks that SQLite gets for free and PostgreSQL needs explicitly.

SQLite writers are serialised by ``BEGIN IMMEDIATE``. On PostgreSQL, ingest transactions take a
shared advisory lock per environment and meter creation an exclusive one, so a new meter's backfill
never misses events committed by an ingest that started before the meter existed.
"""

from __future__ import annotations

from . import dialect

_NAMESPACE = 0x6D62  # "mb"
#: The fold lock's namespace: the folder holds it exclusively while it moves rollups and the watermark,
#: usage reads in a READ COMMITTED transaction hold it shared (see ``storage.fold``).
FOLD_NAMESPACE = 0x6D66  # "mf"


def meters_shared(conn, environment: str) -> None:
    dialect.advisory_lock(conn, _NAMESPACE, environment, shared=True)


def meters_exclusive(conn, environment: str) -> None:
    dialect.advisory_lock(conn, _NAMESPACE, environment)


def fold_shared(conn, environment: str) -> None:
    """Usage reads: rollups and the watermark do not move under this transaction (PostgreSQL)."""
    dialect.advisory_lock(conn, FOLD_NAMESPACE, environment, shared=True)


def fold_exclusive(conn, environment: str) -> None:
    """The folder and meter creation: one at a time per environment, and no usage read in between."""
    dialect.advisory_lock(conn, FOLD_NAMESPACE, environment)
