"""Pydantic models of the events, meters and usage API: request bodies and the answers' shapes.

They document the API (OpenAPI at ``/docs``). Meter bodies are type-checked by FastAPI; other
bodies are parsed by the pure core, which enforces the domain rules once, so the native and the
Dodo-compatible routes give the same errors; their models here only document them (``body_doc``).
Response models are documented with :func:`answers` (``responses=``), never used to filter what a
route returns; ``tests/reliability/test_schemathesis.py`` checks every answer against them.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..meters.aggregations import NAMES, REGISTRY, params as agg_params

#: Request-body models documented through ``body_doc`` (added to the OpenAPI components by ``api.docs``).
BODIES: list[type[BaseModel]] = []


def body_doc(model: type[BaseModel], required: bool = True, description: str | None = None) -> dict:
    """``openapi_extra`` documenting a JSON body the route parses itself (the core validates it)."""
    if model not in BODIES:
        BODIES.append(model)
    body: dict = {"required": required,
                  "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def answers(model: type[BaseModel] | None, status: int = 200, description: str = "OK") -> dict:
    """Route kwargs documenting the success answer's shape (``responses=``; the route's dict is sent as is)."""
    return {"responses": {status: {"model": model, "description": description} if model else {"description": description}}}

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


class IngestResult(BaseModel):
    ingested_count: int = Field(description="Events stored by this request.")
    duplicate_count: int = Field(description="Events whose id was already stored with the same content.")
    duplicates: list[str] = Field(description="Their event ids.")
    conflict_count: int = Field(description="Events whose id was already stored with different content (ignored).")
    conflicts: list[str] = Field(description="Their event ids.")


class EventOut(BaseModel):
    business_id: str
    event_id: str
    customer_id: str
    event_name: str
    timestamp: str = Field(description="ISO-8601 UTC instant of the event.")
    metadata: dict[str, Any]
    ingested_at: str = Field(description="When the server stored it (ISO-8601 UTC).")


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: Optional[str] = Field(description="Pass as cursor for older events; null on the last page.")


AggregationOut = create_model(
    "AggregationOut",
    type=(str, Field(description="One of: " + ", ".join(NAMES))),
    key=(Optional[str], ...),
    **{p.name: (Optional[str], Field(None, description=p.description)) for p in agg_params().values()},
)


class MeterOut(BaseModel):
    id: str
    business_id: str
    name: str
    description: Optional[str]
    event_name: str
    aggregation: AggregationOut
    measurement_unit: str
    filter: Optional[dict[str, Any]]
    archived: bool
    environment: str = Field(description="test_mode or live_mode (the key's).")
    created_at: str
    updated_at: str


class MeterPage(BaseModel):
    data: list[MeterOut]


class UsageWindow(BaseModel):
    start: str
    end: str
    value: Optional[str] = Field(description="Exact decimal text; null when the window has no value (max of nothing).")


class UsageRow(BaseModel):
    customer_id: str
    group: Optional[dict[str, Any]] = Field(description="The group_by values of this row, or null.")
    value: Optional[str] = Field(description="The meter's value over the whole range (exact decimal text).")
    events: int
    rejected: int = Field(description="Events counted whose value was missing or not a number.")
    windows: list[UsageWindow] = Field(description="Every window of the range in order; with sparse=true only "
                                                   "the windows in which an event counted.")


class UsageOut(BaseModel):
    meter_id: str
    aggregation: str
    measurement_unit: str
    from_: str = Field(alias="from")
    to: str
    window: str
    tz: str
    sparse: bool = Field(description="true: windows without events are omitted from each row's windows.")
    data: list[UsageRow]


class DodoIngestResult(BaseModel):
    ingested_count: int


class DodoEventPage(BaseModel):
    items: list[EventOut]


class DodoMeterPage(BaseModel):
    items: list[MeterOut]


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


#: The aggregation of a meter, derived from the registry (``meters.aggregations``): the ``type`` enum is
#: every member's name, and each member's extra parameters (``time_weighted``: ``mode``, ``per``) are
#: optional fields with their allowed values.
Aggregation = create_model(
    "Aggregation",
    __config__=ConfigDict(extra="forbid"),
    __doc__="How a meter aggregates its events: " + "; ".join(f"{a.name}: {a.description}" for a in REGISTRY.values()),
    type=(Literal[NAMES], Field(description="One of: " + ", ".join(NAMES))),
    key=(Optional[str], Field(None, description="Metadata property aggregated (required for " + ", ".join(
        a.name for a in REGISTRY.values() if a.needs_key) + ").")),
    **{p.name: (Optional[Literal[p.choices]], Field(None, description=f"{p.description} (default {p.default}).")) 
       for p in agg_params().values()},
)


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
                                  "conflict, request_timeout, payload_too_large, usage_too_large, "
                                  "unbillable_quantity, rate_limited")
    message: str
    field: Optional[str] = Field(None, description="Dotted path of the offending input, e.g. events[3].timestamp.")


def _error(description: str, headers: dict | None = None) -> dict:
    out: dict = {"model": ErrorBody, "description": description}
    if headers:
        out["headers"] = headers
    return out


#: The header of a 429 answer.
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}

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
    429: _error("Rate limit of this key exceeded", RETRY_AFTER),
}


class FoldStatus(BaseModel):
    """How far the event store's folder is (``storage.fold``): usage answers are exact either way."""

    environment: str = Field(description="test_mode or live_mode (the key's).")
    folded_seq: int = Field(description="Every event up to this seq is in the meter rollups.")
    latest_seq: int = Field(description="The largest event seq stored; the events after folded_seq are read raw.")
    unfolded: int = Field(description=(
        "This mode's events after folded_seq: the tail awaiting the folder, the number the ingest backlog bound "
        "compares with max_unfolded; exact up to 1,000,000 (a larger tail shows as 1,000,000); 0: up to date."))
    max_unfolded: Optional[int] = Field(description=(
        "The ingest backlog bound this server enforces (MB_MAX_UNFOLDED, where a folder runs): while unfolded "
        "is above it, ingest waits for the folder, then answers 429 ingest_backlog. null: this server enforces "
        "none (it runs no folder, or MB_MAX_UNFOLDED=0)."))
