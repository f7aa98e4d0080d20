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

Bounds (a filter runs for every event of its name, inside the ingest transaction, so its cost per
event is bounded): ``MAX_DEPTH`` levels, ``MAX_CLAUSES`` clauses per group and ``MAX_TOTAL_CLAUSES``
in the whole tree, ``MAX_IN_VALUES`` values per ``in``/``not_in`` list (``MAX_TOTAL_IN_VALUES`` in
the tree), keys of at most ``MAX_KEY_LEN`` and text values of at most ``MAX_STRING_VALUE_LEN``
characters (the event limits: a longer one could never match). ``in``/``not_in`` compile to hash
sets, so their cost per event does not grow with the list.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable, Iterable

from ..errors import ValidationError
from ..events.model import MAX_KEY_LEN, MAX_STRING_VALUE_LEN
from ..events.values import parse_number, to_text

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
MAX_TOTAL_CLAUSES = 200
MAX_IN_VALUES = 1000
MAX_TOTAL_IN_VALUES = 5000

_SCALARS = (str, int, float, bool)


class _Budget:
    """What the whole tree may still hold (clauses, ``in`` values)."""

    def __init__(self) -> None:
        self.clauses = MAX_TOTAL_CLAUSES
        self.in_values = MAX_TOTAL_IN_VALUES


def _check_text(value: object, where: str, what: str, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise ValidationError(f"{what} is longer than {limit} characters", where)


def _normalise_clause(raw: Any, where: str, depth: int, budget: _Budget) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError("a filter clause must be an object", where)
    if "clauses" in raw or "conjunction" in raw:
        return _parse_group(raw, where, depth + 1, budget)
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise ValidationError("a condition needs a non-empty 'key'", f"{where}.key")
    _check_text(key, f"{where}.key", "a filter key", MAX_KEY_LEN)
    op = raw.get("operator")
    op = _ALIASES.get(op, op) if isinstance(op, str) else op
    if op not in OPERATORS:
        raise ValidationError(f"unknown operator {str(raw.get('operator'))[:40]!r}; use one of {', '.join(OPERATORS)}",
                              f"{where}.operator")
    value = raw.get("value")
    if op == "exists":
        if value is not None and not isinstance(value, bool):
            raise ValidationError("'exists' takes an optional boolean value", f"{where}.value")
        return {"key": key, "operator": op, "value": True if value is None else value}
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(isinstance(v, _SCALARS) for v in value):
            raise ValidationError(f"'{op}' needs a non-empty list of scalar values", f"{where}.value")
        if len(value) > MAX_IN_VALUES:
            raise ValidationError(f"'{op}' takes at most {MAX_IN_VALUES} values; got {len(value)}", f"{where}.value")
        budget.in_values -= len(value)
        if budget.in_values < 0:
            raise ValidationError(f"a filter holds at most {MAX_TOTAL_IN_VALUES} 'in'/'not_in' values in all",
                                  f"{where}.value")
    elif not isinstance(value, _SCALARS):
        raise ValidationError(f"'{op}' needs a string, number or boolean value", f"{where}.value")
    for i, v in enumerate(value if isinstance(value, list) else [value]):
        at = f"{where}.value[{i}]" if isinstance(value, list) else f"{where}.value"
        if isinstance(v, float) and not math.isfinite(v):
            raise ValidationError("numbers must be finite (no NaN or Infinity)", at)
        _check_text(v, at, "a filter value", MAX_STRING_VALUE_LEN)
    if op.startswith(("greater", "less")) and parse_number(value) is None:
        raise ValidationError(f"'{op}' needs a numeric value", f"{where}.value")
    return {"key": key, "operator": op, "value": value}


def _parse_group(raw: Any, where: str, depth: int, budget: _Budget) -> dict:
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
        raise ValidationError(f"at most {MAX_CLAUSES} clauses per group; got {len(clauses)}", f"{where}.clauses")
    budget.clauses -= len(clauses)
    if budget.clauses < 0:
        raise ValidationError(f"a filter holds at most {MAX_TOTAL_CLAUSES} clauses in all (groups included)",
                              f"{where}.clauses")
    return {
        "conjunction": conj,
        "clauses": [_normalise_clause(c, f"{where}.clauses[{i}]", depth, budget) for i, c in enumerate(clauses)],
    }


def parse_filter(raw: Any, where: str = "filter") -> dict | None:
    """Validate and normalise a filter tree (within the bounds above); returns None for "no filter"."""
    if raw is None:
        return None
    return _parse_group(raw, where, 1, _Budget())


class _OneOf:
    """Membership with the equality semantics of the module docstring, O(1) per value.

    ``v`` equals option ``o`` when both are numbers and equal as numbers, or when at least one is not
    a number and their texts are equal. So a numeric ``v`` matches a numeric option by value or a
    non-numeric option by text, and a non-numeric ``v`` matches any option by text.
    """

    __slots__ = ("numbers", "texts_of_non_numbers", "texts")

    def __init__(self, options: Iterable[object]):
        options = list(options)
        parsed = [parse_number(o) for o in options]
        self.numbers = {d for d in parsed if d is not None}
        self.texts_of_non_numbers = {to_text(o) for o, d in zip(options, parsed) if d is None}
        self.texts = {to_text(o) for o in options}

    def __call__(self, v: object) -> bool:
        d = parse_number(v)
        if d is not None:
            return d in self.numbers or (bool(self.texts_of_non_numbers) and to_text(v) in self.texts_of_non_numbers)
        return to_text(v) in self.texts


def _ordered(cmp: Callable[[Decimal, Decimal], bool], target: object) -> Callable[[object], bool]:
    bound = parse_number(target)

    def test(v: object) -> bool:
        d = parse_number(v)
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
        base = _OneOf([target])
    elif op in ("in", "not_in"):
        base = _OneOf(target)
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
