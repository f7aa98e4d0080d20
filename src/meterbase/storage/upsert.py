"""Batch statements for the hot paths: ``execute_many`` (compiled once, straight to the driver).

``insert`` (the backend's ``INSERT … ON CONFLICT`` construct) lives in :mod:`.dialect`; it is re-exported
here for the repositories that import it from this module.
"""

from __future__ import annotations

import re

from . import dialect
from .dialect import insert

__all__ = ["execute_many", "insert", "inserted"]


def inserted(conn, stmt, column) -> bool:
    """Run an ``INSERT … ON CONFLICT DO NOTHING``; True when the row was new.

    Decided by ``RETURNING``: psycopg reports ``rowcount = -1`` for these statements.
    """
    return conn.execute(stmt.returning(column)).first() is not None


_COMPILED: dict[tuple[str, str], tuple[str, tuple | None]] = {}
_UNNEST: dict[str, tuple[str, list[str]]] = {}
_VALUES = re.compile(r"VALUES \((.*?)\)(?= ON CONFLICT|$)")
_PARAM = re.compile(r"%\((\w+)\)s(?:::([\w ]+))?")


def _unnest_sql(conn, key: str, build) -> tuple[str, list[str]]:
    """PostgreSQL: the single-row ``INSERT … VALUES (…) ON CONFLICT …`` of ``build()`` rewritten to
    insert ``SELECT * FROM unnest(<one array per column>)``: one statement for the whole batch. Constants
    among the values (``NULL``, ``-1``) stay constants of the ``SELECT``."""
    cached = _UNNEST.get(key)
    if cached is None:
        stmt = build()
        sql = str(stmt.compile(dialect=conn.dialect))
        names: list[str] = []

        def array_params(m: re.Match) -> str:
            parts, select = [], []
            for value in m.group(1).split(", "):
                param = _PARAM.fullmatch(value)
                if param is None:
                    if "(" in value or "'" in value or "%" in value:  # not a plain constant (NULL, -1): refuse
                        raise ValueError(f"cannot rewrite {key!r} over arrays: {value!r}")
                    select.append(value)
                    continue
                name, cast = param.groups()
                names.append(name)
                # %b: the arrays go in binary (no text array literal for the server to parse and unescape)
                parts.append(f"%({name})b::{cast or stmt.table.c[name].type.compile(dialect=conn.dialect)}[]")
                select.append(f"u.c{len(parts)}")
            if len(parts) == len(select):
                return f"SELECT * FROM unnest({', '.join(parts)})"
            return f"SELECT {', '.join(select)} FROM unnest({', '.join(parts)}) AS u({', '.join(f'c{i + 1}' for i in range(len(parts)))})"

        rewritten, n = _VALUES.subn(array_params, sql, count=1)
        if n != 1:
            raise ValueError(f"cannot rewrite {key!r} over arrays: {sql[:200]}")
        cached = _UNNEST[key] = (rewritten, names)
    return cached


def execute_many(conn, key: str, build, rows: list, arrays: bool = False, columns: tuple[str, ...] | None = None):
    """Run ``build()``'s statement once per row through the driver's ``executemany``.

    For the hot ingest statements: the SQL is compiled once per backend and cached under ``key``,
    and rows skip SQLAlchemy's per-row bind processing, so values must already be what the driver
    takes (see ``types.decimal_param``). ``rows`` are dicts, or tuples in the order of ``columns``
    (no per-row dict at all). ``arrays``: on PostgreSQL send the batch as one statement over
    column arrays (measured on the rollup upsert: 63 -> 45 ms per 2,200 rows). Returns the driver's
    result (its ``rowcount`` is the number of rows the statement changed).
    """
    index = None if columns is None else {c: i for i, c in enumerate(columns)}
    if arrays and dialect.is_postgresql(conn) and len(rows) > 1:
        sql, names = _unnest_sql(conn, key, build)
        if index is None:
            return conn.exec_driver_sql(sql, {n: [r[n] for r in rows] for n in names})
        cols = list(zip(*rows))
        return conn.exec_driver_sql(sql, {n: list(cols[index[n]]) for n in names})
    cached = _COMPILED.get((conn.dialect.name, key))
    if cached is None:
        compiled = build().compile(dialect=conn.dialect)
        cached = _COMPILED[(conn.dialect.name, key)] = (str(compiled), compiled.positiontup if compiled.positional else None)
    sql, order = cached
    if index is None:
        params = [tuple(r[k] for k in order) for r in rows] if order is not None else rows
    elif order is not None:
        positions = [index[k] for k in order]
        params = rows if positions == list(range(len(columns))) else [tuple(r[i] for i in positions) for r in rows]
    else:
        params = [dict(zip(columns, r)) for r in rows]
    return conn.exec_driver_sql(sql, params)
