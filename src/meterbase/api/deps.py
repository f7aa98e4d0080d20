"""Shared request plumbing: the store, bounded JSON bodies, instants from query strings."""

from __future__ import annotations

import orjson
from fastapi import Request

from ..errors import MeterbaseError, ValidationError
from ..storage import Store
from ..timeutil import parse_instant, to_us


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
    return orjson.loads(await read_body(request))


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
