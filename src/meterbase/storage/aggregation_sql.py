"""Rollup SQL per aggregation column: how the upsert merges a stored partial with an incoming one.

The registry (``meters.aggregations``) says which rollup columns each aggregation reads; this module
holds the SQL (dialect-aware through ``storage.types``) that merges each column, so the rollup upsert
is derived from the registry: one upsert per member's column set (:func:`member_columns`), which
inserts and merges exactly the columns that member reads (:func:`upsert_set`) and gives the others an
empty partial's value (:func:`neutral`): a ``sum`` row runs one exact-decimal merge, not three (on
SQLite each is a Python call per row, under the write lock). Every reader (``rollups.read``,
``usage_batch``, the dashboard's SQL) reads only ``events``/``rejected`` and what the member's ``read``
uses, so a column its member does not read is never looked at; as an empty partial's value it merges
as a no-op in ``Partial.merge`` too. ``tests/meters/test_registry.py`` checks every column a member
names has its merge SQL here.
"""

from __future__ import annotations

from sqlalchemy import case, literal_column, null, tuple_

from ..meters.aggregate import Partial
from ..meters.aggregations import REGISTRY, Aggregation
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


#: Columns a column's merge SQL reads besides its own (``excluded.n``, the ``(last_ts, last_seq)`` order):
#: an upsert merging the column carries them too.
MERGE_READS = {"sum": ("n",), "min": ("n",), "max": ("n",),
               "last_value": ("last_ts", "last_seq"), "last_seq": ("last_ts",), "last_ts": ("last_seq",)}


def rollup_columns() -> list[str]:
    """Every rollup column some rolled-up registry member reads, in a stable order."""
    cols: dict[str, None] = {}
    for member in REGISTRY.values():
        if member.rolled_up:
            cols.update(dict.fromkeys(member.columns))
    return [c for c in COLUMN_MERGE if c in cols] + sorted(c for c in cols if c not in COLUMN_MERGE)


def member_columns(member: Aggregation) -> tuple[str, ...]:
    """The rollup columns ``member``'s rows insert and merge (the key aside), in the stable order: the ones it
    reads and the ones their merge SQL reads."""
    cols = set(member.columns)
    for col in member.columns:
        cols.update(MERGE_READS.get(col, ()))
    return tuple(c for c in COLUMN_MERGE if c in cols)


def upsert_set(r, excluded, columns=None) -> dict:
    """``on_conflict_do_update(set_=…)`` of the rollup upsert merging ``columns`` (default: every column some
    rolled-up member reads)."""
    return {col: COLUMN_MERGE[col](r, excluded, col) for col in (rollup_columns() if columns is None else columns)}


def neutral(col: str):
    """What rollup column ``col`` holds in the rows of a member that does not read it: an empty partial's
    value, as a constant of the statement (nothing bound per row, nothing merged)."""
    value = getattr(Partial(), col)
    return null() if value is None else literal_column(str(value))
