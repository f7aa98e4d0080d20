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


_COMPILED: dict[tuple[str, str], tuple[str, tuple | None]] = {}


def execute_many(conn, key: str, build, rows: list[dict]) -> None:
    """Run ``build()``'s statement once per row through the driver's ``executemany``.

    For the hot ingest statements: the SQL is compiled once per backend and cached under ``key``,
    and rows skip SQLAlchemy's per-row bind processing, so values must already be what the driver
    takes (see ``types.decimal_param``).
    """
    cached = _COMPILED.get((conn.dialect.name, key))
    if cached is None:
        compiled = build().compile(dialect=conn.dialect)
        cached = _COMPILED[(conn.dialect.name, key)] = (str(compiled), compiled.positiontup if compiled.positional else None)
    sql, order = cached
    params = [tuple(r[k] for k in order) for r in rows] if order is not None else rows
    conn.exec_driver_sql(sql, params)
