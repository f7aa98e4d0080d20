"""Shared request plumbing: the store, bounded JSON bodies, instants from query strings."""

from __future__ import annotations

import orjson
from fastapi import Request

from ..errors import MeterbaseError, ValidationError
from ..events.validate import check_text_tree
from ..storage import Store
from ..timeutil import parse_instant, to_us


#: Largest list offset accepted (keeps every backend's 64-bit integers safe from overflow).
MAX_OFFSET = 2**53
#: Largest Dodo-style page number (page_size ≤ 100, so the offset stays below MAX_OFFSET).
MAX_PAGE = 2**45


class PayloadTooLarge(MeterbaseError):
    status = 413
    code = "payload_too_large"


def store(request: Request) -> Store:
    return request.app.state.store


async def read_body(request: Request, expected: str = "JSON") -> bytes:
    """The raw request body, refused (413) beyond ``max_body_bytes`` and (422) when empty."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes", "body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", "body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ValidationError(f"request body is empty; expected {expected}", "body")
    return raw


async def json_body(request: Request):
    """The parsed JSON body. Invalid JSON (NaN, Infinity, numbers beyond float range, bad UTF-8, lone
    surrogates, nesting deeper than 1024) is a 400; a NUL character in any string is a 422 (PostgreSQL
    cannot store it, and no backend should store what the other refuses)."""
    raw = await read_body(request)
    body = orjson.loads(raw)
    if b"\\u0000" in raw:  # only then can a parsed string hold NUL: walk the tree to find which
        check_text_tree(body)
    return body


def instant_param(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return to_us(parse_instant(value))
    except (ValueError, OverflowError):
        raise ValidationError(f"{field} must be an ISO-8601 instant, got {value!r}", field) from None


def events_of(body) -> object:
    if not isinstance(body, dict) or "events" not in body:
        raise ValidationError("body must be an object with an 'events' list", "events")
    extra = set(body) - {"events"}
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(extra))}", sorted(extra)[0])
    return body["events"]
