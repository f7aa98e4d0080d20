"""Pydantic request models: they document the API (OpenAPI at /docs) and type-check bodies.

Domain rules (limits, filter semantics) are enforced once, in the pure core, so both the native
and the Dodo-compatible routes give the same errors.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

Scalar = Union[str, float, int, bool]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(description="Client-chosen unique id; replays of the same id are ignored (idempotency).")
    customer_id: str
    event_name: str = Field(description="Exact, case-sensitive name meters select on, e.g. 'api.call'.")
    timestamp: Optional[str] = Field(None, description="ISO-8601 instant; server time when omitted. Naive = UTC.")
    metadata: Optional[dict[str, Scalar]] = Field(None, description="String, number or boolean values; numbers may be strings.")


def ingest_body_schema() -> dict:
    """Inline OpenAPI schema for ``{"events": [EventIn ≤ 1000]}`` (the route parses the body itself)."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {"events": {"type": "array", "maxItems": 1000, "items": EventIn.model_json_schema()}},
                }
            }
        },
    }


class FilterCondition(BaseModel):
    key: str
    operator: str = Field(description="equals, not_equals, greater_than, greater_than_or_equals, less_than, "
                                      "less_than_or_equals, contains, does_not_contain, in, not_in, exists")
    value: Optional[Union[Scalar, list[Scalar]]] = None


class MeterFilter(BaseModel):
    conjunction: Literal["and", "or"] = "and"
    clauses: list[Union[FilterCondition, "MeterFilter"]]


class Aggregation(BaseModel):
    type: Literal["count", "sum", "max", "min", "avg", "last", "unique_count"]
    key: Optional[str] = Field(None, description="Metadata property aggregated (required except for count).")


class MeterCreate(BaseModel):
    name: str
    event_name: str
    aggregation: Aggregation
    measurement_unit: str = "units"
    description: Optional[str] = None
    filter: Optional[MeterFilter] = None


class MeterUpdate(BaseModel):
    name: Optional[str] = None
    description: Optional[str] = None
    measurement_unit: Optional[str] = None
