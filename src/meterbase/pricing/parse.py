"""Parsing price definitions from plain dicts (JSON/YAML) into price models.

This module owns the wire format: ``{"model": <kind>, ...fields}`` where ``kind`` is one of
``MODELS`` and numbers are strings (or ints; JSON floats are accepted by their shortest repr).
Unknown keys are rejected so a typo like ``free_treshold`` cannot silently price at zero, and every
error is a ``ValidationError`` whose ``field`` is the dotted path of the offending input
(``tiers.1.up_to``). ``price_from_dict(p.to_dict()) == p`` for every model.
"""

from __future__ import annotations

from ..errors import ValidationError
from .models import Flat, Package, PerUnit, PriceModel, build
from .tiers import Graduated, Volume

MODELS: dict[str, type[PriceModel]] = {cls.kind: cls for cls in (PerUnit, Graduated, Volume, Package, Flat)}


def price_from_dict(data: object) -> PriceModel:
    """Validate a price definition and build its model."""
    if not isinstance(data, dict):
        raise ValidationError("price must be an object", "price")
    kind = data.get("model")
    if not isinstance(kind, str) or kind not in MODELS:
        raise ValidationError(f"model must be one of {', '.join(MODELS)}", "model")
    return build(MODELS[kind], {k: v for k, v in data.items() if k != "model"})
