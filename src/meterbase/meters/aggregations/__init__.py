"""The aggregation registry: one :class:`Aggregation` per file of this package, found by name.

Each module of this package (other than ``base``) defines ``AGGREGATION``; adding an aggregation is
adding one file. Everything that lists aggregations (API schema, CLI help, rollup SQL, usage queries,
dashboard labels) reads :data:`REGISTRY` -- ``tests/meters/test_registry.py`` checks every place.
"""

from __future__ import annotations

import importlib
import pkgutil

from ...errors import ValidationError
from .base import Aggregation, Param


def _discover() -> dict[str, Aggregation]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        found.append(importlib.import_module(f"{__name__}.{info.name}").AGGREGATION)
    return {a.name: a for a in sorted(found, key=lambda a: (a.order, a.name))}


#: name -> Aggregation, in display order.
REGISTRY: dict[str, Aggregation] = _discover()
#: Every aggregation name, in display order.
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Aggregation:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValidationError(f"aggregation.type must be one of {', '.join(NAMES)}", "aggregation.type") from None


def params() -> dict[str, Param]:
    """Every extra parameter any member takes, by name (for the API schema)."""
    out: dict[str, Param] = {}
    for a in REGISTRY.values():
        for p in a.params:
            out.setdefault(p.name, p)
    return out


__all__ = ["Aggregation", "NAMES", "Param", "REGISTRY", "get", "params"]
