"""Validation of raw event dicts into :class:`Event`, with field-precise errors.

A batch is validated whole before anything is stored: one bad event rejects the batch.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, Iterable

import orjson

from ..errors import ValidationError
from ..timeutil import parse_instant, to_us, US_PER_SECOND
from .model import (
    MAX_BATCH,
    MAX_ID_LEN,
    MAX_KEY_LEN,
    MAX_METADATA_KEYS,
    MAX_STRING_VALUE_LEN,
    Event,
)

#: Events may be at most this far ahead of the server clock (client clock skew allowance).
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
#: Earliest accepted timestamp (2000-01-01T00:00:00Z).
MIN_TS_US = 946_684_800 * US_PER_SECOND

_ALLOWED_KEYS = {"event_id", "customer_id", "event_name", "timestamp", "metadata"}
# Integers beyond this cannot be stored faithfully by every backend's JSON path.
_MAX_ABS_INT = 2**63 - 1


def _utf8(value: str, field: str) -> str:
    """Reject strings that cannot be stored as UTF-8 text on every backend: lone surrogates such as
    ``"\\ud800"``, and NUL (PostgreSQL text cannot hold it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("text must be valid Unicode (no lone surrogates)", field) from None
    if "\x00" in value:
        raise ValidationError("text must not contain NUL (\\u0000) characters", field)
    return value


def check_text(value: str, field: str) -> str:
    """Public form of the storable-text check (valid UTF-8, no NUL)."""
    return _utf8(value, field)


def check_text_tree(value: Any, where: str = "") -> None:
    """Apply :func:`check_text` to every string (object keys included) of a parsed JSON value;
    the error names the offending path (``events[0].metadata.k``), or ``body`` at the top."""
    if isinstance(value, str):
        _utf8(value, where or "body")
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                _utf8(k, where or "body")
            check_text_tree(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_text_tree(v, f"{where}[{i}]")


def _require_str(raw: dict, key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} is required and must be a non-empty string", f"{where}.{key}")
    if len(value) > MAX_ID_LEN:
        raise ValidationError(f"{key} is longer than {MAX_ID_LEN} characters", f"{where}.{key}")
    return _utf8(value, f"{where}.{key}")


def _validate_metadata(meta: Any, where: str) -> dict:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValidationError("metadata must be an object of string keys to scalar values", where)
    if len(meta) > MAX_METADATA_KEYS:
        raise ValidationError(f"metadata has more than {MAX_METADATA_KEYS} keys", where)
    for key, value in meta.items():
        if not key or len(key) > MAX_KEY_LEN:
            raise ValidationError(f"metadata keys must be 1..{MAX_KEY_LEN} characters", f"{where}.{key}")
        _utf8(key, where)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if abs(value) > _MAX_ABS_INT:
                raise ValidationError("integer out of range (use a string for huge numbers)", f"{where}.{key}")
            continue
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValidationError("numbers must be finite", f"{where}.{key}")
            continue
        if isinstance(value, str):
            if len(value) > MAX_STRING_VALUE_LEN:
                raise ValidationError(f"string values are limited to {MAX_STRING_VALUE_LEN} characters", f"{where}.{key}")
            _utf8(value, f"{where}.{key}")
            continue
        raise ValidationError(
            "metadata values must be strings, numbers or booleans (no null, lists or objects)",
            f"{where}.{key}",
        )
    return meta


def fingerprint(customer_id: str, event_name: str, timestamp: int | None, metadata: dict) -> str:
    payload = orjson.dumps([customer_id, event_name, timestamp, metadata], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


_SORT_KEYS = orjson.OPT_SORT_KEYS
_NUL_ESCAPED = b"\\u0000"


def _fast_event(raw: Any, now_us: int, max_future_us: int) -> Event | None:
    """The common case in one pass, or ``None`` when anything is unusual (then :func:`validate_event`
    runs the field-by-field checks and raises the precise error, or accepts the event the same way).

    Text checks are batched: the fingerprint's own ``orjson.dumps`` of customer, name and metadata fails on
    a lone surrogate and shows a NUL as ``\\u0000``, so no string is checked one by one."""
    if type(raw) is not dict or not raw.keys() <= _ALLOWED_KEYS:
        return None
    event_id, customer_id, event_name = raw.get("event_id"), raw.get("customer_id"), raw.get("event_name")
    for v in (event_id, customer_id, event_name):
        if type(v) is not str or not v or len(v) > MAX_ID_LEN or v.isspace():
            return None
    meta = raw.get("metadata")
    if meta is None:
        meta = {}
    elif type(meta) is not dict or len(meta) > MAX_METADATA_KEYS:
        return None
    for key, value in meta.items():
        if type(key) is not str or not key or len(key) > MAX_KEY_LEN:
            return None
        t = type(value)
        if t is str:
            if len(value) > MAX_STRING_VALUE_LEN:
                return None
        elif t is bool:
            continue
        elif t is int:
            if abs(value) > _MAX_ABS_INT:
                return None
        elif t is float:
            if value != value or value in (_INF, _NINF):
                return None
        else:
            return None
    ts_raw = raw.get("timestamp")
    if ts_raw is None:
        ts_us, supplied = now_us, None
    else:
        if type(ts_raw) is not str:
            return None
        try:
            ts_us = to_us(parse_instant(ts_raw))
        except (ValueError, OverflowError):
            return None
        if ts_us < MIN_TS_US or ts_us > now_us + max_future_us:
            return None
        supplied = ts_us
    try:
        payload = orjson.dumps([customer_id, event_name, supplied, meta], option=_SORT_KEYS)
        if "\x00" in event_id:
            return None
        event_id.encode("utf-8")
    except (orjson.JSONEncodeError, UnicodeEncodeError):
        return None
    if _NUL_ESCAPED in payload:
        return None
    return Event(event_id=event_id, customer_id=customer_id, event_name=event_name, ts_us=ts_us, metadata=meta,
                 fingerprint=hashlib.blake2b(payload, digest_size=12).hexdigest())


_INF, _NINF = float("inf"), float("-inf")


def validate_event(raw: Any, now_us: int, where: str = "event", max_future: timedelta = DEFAULT_MAX_FUTURE) -> Event:
    if not isinstance(raw, dict):
        raise ValidationError("each event must be a JSON object", where)
    unknown = set(raw) - _ALLOWED_KEYS
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}", f"{where}.{sorted(unknown)[0]}")
    event_id = _require_str(raw, "event_id", where)
    customer_id = _require_str(raw, "customer_id", where)
    event_name = _require_str(raw, "event_name", where)
    metadata = _validate_metadata(raw.get("metadata"), f"{where}.metadata")

    ts_raw = raw.get("timestamp")
    supplied_ts: int | None = None
    if ts_raw is None:
        ts_us = now_us
    else:
        if not isinstance(ts_raw, str):
            raise ValidationError("timestamp must be an ISO-8601 string", f"{where}.timestamp")
        try:
            ts_us = to_us(parse_instant(ts_raw))
        except (ValueError, OverflowError):
            raise ValidationError(f"timestamp {ts_raw!r} is not a valid ISO-8601 instant", f"{where}.timestamp") from None
        if ts_us < MIN_TS_US:
            raise ValidationError("timestamp is before 2000-01-01", f"{where}.timestamp")
        if ts_us > now_us + int(max_future.total_seconds() * US_PER_SECOND):
            raise ValidationError("timestamp is too far in the future", f"{where}.timestamp")
        supplied_ts = ts_us
    return Event(
        event_id=event_id,
        customer_id=customer_id,
        event_name=event_name,
        ts_us=ts_us,
        metadata=metadata,
        fingerprint=fingerprint(customer_id, event_name, supplied_ts, metadata),
    )


def validate_batch(raw_events: Any, now_us: int, max_future: timedelta = DEFAULT_MAX_FUTURE) -> list[Event]:
    """Validate a whole batch (≤ MAX_BATCH). Raises on the first invalid event; stores nothing."""
    if not isinstance(raw_events, list):
        raise ValidationError("events must be a list", "events")
    if len(raw_events) > MAX_BATCH:
        raise ValidationError(
            f"a batch holds at most {MAX_BATCH} events; got {len(raw_events)} (split it, nothing was stored)",
            "events",
        )
    max_future_us = int(max_future.total_seconds() * US_PER_SECOND)
    out = []
    for i, raw in enumerate(raw_events):
        ev = _fast_event(raw, now_us, max_future_us)
        out.append(ev if ev is not None else validate_event(raw, now_us, f"events[{i}]", max_future))
    return out


def iter_batches(items: Iterable, size: int = MAX_BATCH):
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
