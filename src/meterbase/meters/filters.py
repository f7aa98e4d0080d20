"""Meter filters: nestable AND/OR groups of conditions on event metadata.

Shape (the same as Dodo Payments' meter filter)::

    {"conjunction": "and", "clauses": [
        {"key": "tier", "operator": "equals", "value": "premium"},
        {"conjunction": "or", "clauses": [...]},
    ]}

Semantics, applied identically at ingest (rollups) and in raw scans:
- Comparisons are numeric when both sides are numbers (``"1500"`` equals ``1500``), textual
  otherwise (booleans compare as ``"true"``/``"false"``).
- Ordering operators (greater_than…) are numeric only; a non-numeric side never matches.
- A missing key matches only the negative operators (not_equals, does_not_contain, not_in).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable

from ..errors import ValidationError
from ..events.values import to_decimal, to_text

Predicate = Callable[[dict], bool]

OPERATORS = (
    "equals",
    "not_equals",
    "greater_than",
    "greater_than_or_equals",
    "less_than",
    "less_than_or_equals",
    "contains",
    "does_not_contain",
    "in",
    "not_in",
    "exists",
)
_ALIASES = {
    "greater_than_or_equal": "greater_than_or_equals",
    "less_than_or_equal": "less_than_or_equals",
    "eq": "equals",
    "ne": "not_equals",
    "gt": "greater_than",
    "gte": "greater_than_or_equals",
    "lt": "less_than",
    "lte": "less_than_or_equals",
}
CONJUNCTIONS = ("and", "or")
MAX_DEPTH = 5
MAX_CLAUSES = 100

_SCALARS = (str, int, float, bool)


def _normalise_clause(raw: Any, where: str, depth: int) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError("a filter clause must be an object", where)
    if "clauses" in raw or "conjunction" in raw:
        return parse_filter(raw, where, depth + 1)
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise ValidationError("a condition needs a non-empty 'key'", f"{where}.key")
    op = raw.get("operator")
    op = _ALIASES.get(op, op) if isinstance(op, str) else op
    if op not in OPERATORS:
        raise ValidationError(f"unknown operator {raw.get('operator')!r}; use one of {', '.join(OPERATORS)}", f"{where}.operator")
    value = raw.get("value")
    if op == "exists":
        if value is not None and not isinstance(value, bool):
            raise ValidationError("'exists' takes an optional boolean value", f"{where}.value")
        return {"key": key, "operator": op, "value": True if value is None else value}
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(isinstance(v, _SCALARS) for v in value):
            raise ValidationError(f"'{op}' needs a non-empty list of scalar values", f"{where}.value")
    elif not isinstance(value, _SCALARS):
        raise ValidationError(f"'{op}' needs a string, number or boolean value", f"{where}.value")
    if any(isinstance(v, float) and not math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
        raise ValidationError("numbers must be finite (no NaN or Infinity)", f"{where}.value")
    if op.startswith(("greater", "less")) and to_decimal(value) is None:
        raise ValidationError(f"'{op}' needs a numeric value", f"{where}.value")
    return {"key": key, "operator": op, "value": value}


def parse_filter(raw: Any, where: str = "filter", depth: int = 1) -> dict | None:
    """Validate and normalise a filter tree; returns None for "no filter"."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError("filter must be an object with 'conjunction' and 'clauses'", where)
    if depth > MAX_DEPTH:
        raise ValidationError(f"filters nest at most {MAX_DEPTH} levels", where)
    conj = str(raw.get("conjunction", "and")).lower()
    if conj not in CONJUNCTIONS:
        raise ValidationError("conjunction must be 'and' or 'or'", f"{where}.conjunction")
    clauses = raw.get("clauses")
    if not isinstance(clauses, list) or not clauses:
        raise ValidationError("clauses must be a non-empty list", f"{where}.clauses")
    if len(clauses) > MAX_CLAUSES:
        raise ValidationError(f"at most {MAX_CLAUSES} clauses per group", f"{where}.clauses")
    return {
        "conjunction": conj,
        "clauses": [_normalise_clause(c, f"{where}.clauses[{i}]", depth) for i, c in enumerate(clauses)],
    }


def _equal(a: object, b: object) -> bool:
    da, db = to_decimal(a), to_decimal(b)
    if da is not None and db is not None:
        return da == db
    return to_text(a) == to_text(b)


def _ordered(cmp: Callable[[Decimal, Decimal], bool], target: object) -> Callable[[object], bool]:
    bound = to_decimal(target)

    def test(v: object) -> bool:
        d = to_decimal(v)
        return d is not None and bound is not None and cmp(d, bound)

    return test


def _condition(clause: dict) -> Predicate:
    key, op, target = clause["key"], clause["operator"], clause["value"]
    missing = object()
    if op == "exists":
        want = bool(target)
        return lambda m: (key in m) is want
    negative = op in ("not_equals", "does_not_contain", "not_in")
    if op in ("equals", "not_equals"):
        base = lambda v: _equal(v, target)  # noqa: E731
    elif op in ("in", "not_in"):
        options = list(target)
        base = lambda v: any(_equal(v, o) for o in options)  # noqa: E731
    elif op in ("contains", "does_not_contain"):
        needle = to_text(target)
        base = lambda v: needle in to_text(v)  # noqa: E731
    else:
        base = _ordered(
            {
                "greater_than": lambda a, b: a > b,
                "greater_than_or_equals": lambda a, b: a >= b,
                "less_than": lambda a, b: a < b,
                "less_than_or_equals": lambda a, b: a <= b,
            }[op],
            target,
        )

    def pred(m: dict) -> bool:
        v = m.get(key, missing)
        if v is missing:
            return negative
        return (not base(v)) if negative else base(v)

    return pred


def compile_filter(tree: dict | None) -> Predicate:
    """Turn a normalised filter tree into a predicate over an event's metadata dict."""
    if tree is None:
        return lambda m: True
    parts = [compile_filter(c) if "clauses" in c else _condition(c) for c in tree["clauses"]]
    if tree["conjunction"] == "and":
        return lambda m: all(p(m) for p in parts)
    return lambda m: any(p(m) for p in parts)
