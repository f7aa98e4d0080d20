"""Column types and SQL functions whose spelling differs per backend.

Exact decimals are ``NUMERIC`` on PostgreSQL and canonical text on SQLite, where arithmetic
goes through small registered functions (``mb_dec_add`` …) so sums never touch a float.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import String, types
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..exact import EXACT


class ExactDecimal(types.TypeDecorator):
    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC())
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(Decimal(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class _Binary(FunctionElement):
    inherit_cache = True
    type = ExactDecimal()


class dec_add(_Binary):
    inherit_cache = True
    name = "mb_dec_add"


class dec_min(_Binary):
    inherit_cache = True
    name = "mb_dec_min"


class dec_max(_Binary):
    inherit_cache = True
    name = "mb_dec_max"


@compiles(dec_add)
@compiles(dec_min)
@compiles(dec_max)
def _sqlite_udf(element, compiler, **kw):
    return f"{element.name}({compiler.process(element.clauses, **kw)})"


@compiles(dec_add, "postgresql")
def _pg_add(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"(COALESCE({compiler.process(a, **kw)}, 0) + COALESCE({compiler.process(b, **kw)}, 0))"


@compiles(dec_min, "postgresql")
def _pg_min(element, compiler, **kw):
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(dec_max, "postgresql")
def _pg_max(element, compiler, **kw):
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


def decimal_param(dialect_name: str):
    """How an exact decimal is handed to the driver directly: NUMERIC on PostgreSQL, text on SQLite."""
    if dialect_name == "postgresql":
        return lambda d: d
    return lambda d: None if d is None else str(d)


def _d(x):
    return None if x is None else Decimal(x)


def sqlite_dec_add(a, b):
    if b is None or b == "0":  # count meters add "0" on every rollup update: skip the Decimal round trip
        return a or "0"
    if a is None or a == "0":
        return b
    return str(EXACT.add(Decimal(a), Decimal(b)))


def sqlite_dec_min(a, b):
    if a is None or b is None:
        return b if a is None else a
    return a if _d(a) <= _d(b) else b


def sqlite_dec_max(a, b):
    if a is None or b is None:
        return b if a is None else a
    return a if _d(a) >= _d(b) else b


SQLITE_FUNCTIONS = {"mb_dec_add": sqlite_dec_add, "mb_dec_min": sqlite_dec_min, "mb_dec_max": sqlite_dec_max}
