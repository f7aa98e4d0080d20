"""Rollup SQL per aggregation column: how the upsert merges a stored partial with an incoming one.

The registry (``meters.aggregations``) says which rollup columns each aggregation reads; this module
holds the SQL (dialect-aware through ``storage.types``) that merges each column, so the rollup upsert
is derived from the registry: :func:`upsert_set` merges exactly the columns some rolled-up member
needs. ``tests/meters/test_registry.py`` checks every column a member names has its merge SQL here.
"""

from __future__ import annotations

from sqlalchemy import case, literal_column, tuple_

from ..meters.aggregations import REGISTRY
from .types import dec_add, dec_max, dec_min


def _add(r, x, col):
    return r.c[col] + x[col]


def _numeric(r, x, col, expr):
    # an incoming partial without numeric values (a count meter's row, or only rejected values) leaves
    # sum/min/max as they are: skip the exact-decimal function (on SQLite a Python call per row)
    return case((x.n == literal_column("0"), r.c[col]), else_=expr)


def _dec_add(r, x, col):
    return _numeric(r, x, col, dec_add(r.c[col], x[col]))


def _dec_min(r, x, col):
    return _numeric(r, x, col, dec_min(r.c[col], x[col]))


def _dec_max(r, x, col):
    return _numeric(r, x, col, dec_max(r.c[col], x[col]))


def _latest(r, x, col):  # the value of the later (ts, seq) of the two
    newer = tuple_(x.last_ts, x.last_seq) >= tuple_(r.c.last_ts, r.c.last_seq)
    return case((newer, x[col]), else_=r.c[col])


#: Rollup column -> merge SQL ``(table, excluded, column) -> expression``. Every expression reads the stored
#: row as it was before the statement (SQLite and PostgreSQL evaluate all of SET against the old row), so
#: the ``(last_ts, last_seq)`` comparison of ``_latest`` is the same for its three columns.
COLUMN_MERGE = {
    "events": _add, "n": _add, "rejected": _add,
    "sum": _dec_add, "min": _dec_min, "max": _dec_max,
    "last_value": _latest, "last_seq": _latest, "last_ts": _latest,
}


def rollup_columns() -> list[str]:
    """Every rollup column some rolled-up registry member reads, in a stable order."""
    cols: dict[str, None] = {}
    for member in REGISTRY.values():
        if member.rolled_up:
            cols.update(dict.fromkeys(member.columns))
    return [c for c in COLUMN_MERGE if c in cols] + sorted(c for c in cols if c not in COLUMN_MERGE)


def upsert_set(r, excluded) -> dict:
    """``on_conflict_do_update(set_=…)`` of the rollup upsert, derived from the registry."""
    return {col: COLUMN_MERGE[col](r, excluded, col) for col in rollup_columns()}
