"""The one place that picks the backend's INSERT … ON CONFLICT construct."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn, table: Table):
    """``INSERT`` supporting ``on_conflict_do_nothing/do_update`` for the connection's backend."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def inserted(conn, stmt, column) -> bool:
    """Run an ``INSERT … ON CONFLICT DO NOTHING``; True when the row was new.

    Decided by ``RETURNING``: psycopg reports ``rowcount = -1`` for these statements.
    """
    return conn.execute(stmt.returning(column)).first() is not None
