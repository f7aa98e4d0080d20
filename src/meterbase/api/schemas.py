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
    model_config = ConfigDict(extra="forbid")
    key: str
    operator: str = Field(description="equals, not_equals, greater_than, greater_than_or_equals, less_than, "
                                      "less_than_or_equals, contains, does_not_contain, in, not_in, exists")
    value: Optional[Union[Scalar, list[Scalar]]] = None


class MeterFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conjunction: Literal["and", "or"] = "and"
    clauses: list[Union[FilterCondition, "MeterFilter"]]


class Aggregation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["count", "sum", "max", "min", "avg", "last", "unique_count"]
    key: Optional[str] = Field(None, description="Metadata property aggregated (required except for count).")


class MeterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    event_name: str
    aggregation: Aggregation
    measurement_unit: str = "units"
    description: Optional[str] = None
    filter: Optional[MeterFilter] = None


class MeterUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Optional[str] = None
    description: Optional[str] = None
    measurement_unit: Optional[str] = None


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always ok when the server answers.")
    version: str = Field(description="meterbase version.")


class ErrorBody(BaseModel):
    """Every error: a machine-readable code, a message for people, and the offending field (or null)."""

    code: str = Field(description="e.g. validation_error, invalid_json, unauthorized, forbidden, not_found, "
                                  "conflict, payload_too_large, rate_limited")
    message: str
    field: Optional[str] = Field(None, description="Dotted path of the offending input, e.g. events[3].timestamp.")


def _error(description: str, headers: dict | None = None) -> dict:
    out: dict = {"model": ErrorBody, "description": description}
    if headers:
        out["headers"] = headers
    return out


#: Error answers any route may give (OpenAPI ``responses`` of the app; 5xx are bugs, never documented).
ERROR_RESPONSES: dict = {
    400: _error("Malformed request (invalid JSON, NaN/Infinity, bad UTF-8, nesting too deep)"),
    401: _error("Missing, invalid, expired or revoked bearer token"),
    403: _error("Read-only key writing, or a portal token outside its customer's usage, entitlements and invoices"),
    404: _error("Not found (in this key's environment)"),
    405: _error("Method not allowed"),
    409: _error("Conflicts with the current state"),
    413: _error("Request body larger than MB_MAX_BODY_BYTES"),
    422: _error("Invalid input; nothing was stored"),
    429: _error("Rate limit of this key exceeded", {"Retry-After": {
        "description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}),
}
