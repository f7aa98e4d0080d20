"""The documented error answers of the API: one shared schema (``schemas.ErrorBody``: ``{code, message,
field}``) and, per status, the codes a route can answer with an example each.

``ERROR_RESPONSES`` (in ``schemas``) lists the statuses every route may give (400, 401, 403, 404, 405, 408,
409, 413, 422, 429). Routes that can also refuse for a reason of their own document it here, so that
``/openapi.json`` names every code a client has to handle:

* :data:`REQUEST_TIMEOUT` -- ``408 request_timeout``: the request line and headers (``MB_HEADER_TIMEOUT``) or
  the body (``MB_BODY_READ_TIMEOUT``) did not arrive in time (any route; added to ``ERROR_RESPONSES``);
* :data:`BODY_TOO_LARGE` -- ``413 payload_too_large``: a body above ``MB_MAX_BODY_BYTES`` (any route);
* :data:`USAGE_BOUNDS` -- ``422 usage_too_large``: the answer would exceed ``MB_MAX_USAGE_CELLS`` cells;
* :data:`UNBILLABLE` -- ``422 unbillable_quantity``: a period whose usage no price can take;
* :data:`METER_BOUNDS` -- ``422 validation_error`` naming a meter definition's field and its bound;
* :data:`INGEST_BACKLOG` -- ``429 ingest_backlog``: more than ``MB_MAX_UNFOLDED`` events await the folder.

Use :func:`with_errors` on a route's ``answers(...)`` kwargs: ``**with_errors(answers(M), USAGE_BOUNDS)``.
"""

from __future__ import annotations

from .schemas import RETRY_AFTER, ErrorBody


def _example(code: str, message: str, field: str | None) -> dict:
    return {"summary": code, "value": {"code": code, "message": message, "field": field}}


def error(status: int, description: str, *examples: tuple[str, str, str | None], headers: dict | None = None) -> dict:
    """A documented error answer: the shared ``ErrorBody`` schema, one example per ``(code, message, field)``
    and the ``headers`` it carries."""
    out: dict = {"model": ErrorBody, "description": description}
    if headers:
        out["headers"] = headers
    if examples:
        named: dict = {}
        for code, msg, fld in examples:  # keyed by code: usage_too_large, validation_error, validation_error_2, ...
            key = code if code not in named else f"{code}_{sum(k.startswith(code) for k in named) + 1}"
            named[key] = _example(code, msg, fld)
        out["content"] = {"application/json": {"examples": named}}
    return {status: out}


REQUEST_TIMEOUT = error(
    408, "request_timeout: the request line and headers did not arrive within MB_HEADER_TIMEOUT (default 10 s), "
         "or the body within MB_BODY_READ_TIMEOUT (default 30 s); the connection is closed",
    ("request_timeout", "request body not received within MB_BODY_READ_TIMEOUT (30 s)", "body"))

BODY_TOO_LARGE = error(
    413, "payload_too_large: the body is larger than MB_MAX_BODY_BYTES (default 8 MiB); refused before "
         "authentication and before it is parsed, and the connection is closed",
    ("payload_too_large", "request body exceeds MB_MAX_BODY_BYTES (8,388,608 bytes); nothing was done", "body"))

_INVALID = ("validation_error", "'to' must be after 'from'", "to")

USAGE_BOUNDS = error(
    422, "Invalid input (validation_error), or usage_too_large: the answer would hold more than "
         "MB_MAX_USAGE_CELLS cells (rows × windows, a row per customer or (customer, group)); nothing was computed",
    _INVALID,
    ("usage_too_large", "usage query would return 936,000 cells (50 customers × 18,720 windows); the limit is "
                        "100,000 (MB_MAX_USAGE_CELLS): narrow the range (from/to), use a coarser window or fewer "
                        "customers", "window"),
    ("validation_error", "group by at most 5 metadata keys", "group_by"))

UNBILLABLE = error(
    422, "Invalid input (validation_error), or unbillable_quantity: a meter's usage in the period cannot be "
         "priced (negative: refunds exceed the usage; or not below 1e30); the message names the meter and the value",
    ("unbillable_quantity", "meter mtr_abc: usage -15 is negative (refunds exceed the usage of the period, or the "
                            "meter measured a negative value); negative quantities cannot be priced", "quantity"),
    ("validation_error", "that period has not ended yet; see the upcoming invoice", "at"))

METER_BOUNDS = error(
    422, "Invalid input: a field of the meter definition is missing, of the wrong type or past its bound (the "
         "message names the field and the bound); nothing was stored",
    ("validation_error", "name is longer than 255 characters", "name"),
    ("validation_error", "description is longer than 1000 characters", "description"))


INGEST_BACKLOG = error(
    429, "rate_limited: the key's rate limit; or ingest_backlog: more than MB_MAX_UNFOLDED (default 100,000) "
         "events of the environment still await the folder after the request waited 5 s for it (storage.backlog); "
         "nothing was stored: retry after Retry-After seconds (a batch is idempotent)",
    ("ingest_backlog", "ingest backlog: more than MB_MAX_UNFOLDED (100,000) events of live_mode await the folder "
                       "after waiting 5 s; nothing was stored, retry the batch (it is idempotent)", "events"),
    ("rate_limited", "rate limit exceeded for this key (1000 requests/s, burst 2000); retry after 1 s",
     "authorization"),
    headers=RETRY_AFTER)


def with_errors(route_kwargs: dict, *errors: dict) -> dict:
    """``route_kwargs`` (from ``schemas.answers``) with these error answers added to its ``responses``."""
    responses = dict(route_kwargs.get("responses", {}))
    for e in errors:
        responses.update(e)
    return {**route_kwargs, "responses": responses}
