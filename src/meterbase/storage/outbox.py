"""Durable webhook outbox: messages are written in the same transaction as the change they
announce, one row per subscribed endpoint, and delivered later by the webhook worker.

Writers call :func:`enqueue` (one message), or for many messages of one type (an invoice run)
:func:`subscribers` once and then :func:`enqueue_many`; delivery, signing and retries live in
``meterbase.webhooks``.
"""

from __future__ import annotations

from typing import Iterable

import orjson
from sqlalchemy import select

from ..ids import new_id
from .schema import webhook_endpoints, webhook_outbox


def subscribers(conn, environment: str, event_type: str) -> list[str]:
    """Ids of the enabled endpoints of ``environment`` subscribed to ``event_type`` (an empty list of
    types on an endpoint means every type)."""
    rows = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.environment == environment, webhook_endpoints.c.disabled.is_(False)
        )
    ).all()
    out = []
    for endpoint_id, types_json in rows:
        types = orjson.loads(types_json)
        if not types or event_type in types:
            out.append(endpoint_id)
    return out


def enqueue(conn, environment: str, event_type: str, payload: dict, now_us: int) -> list[str]:
    """Queue ``payload`` for every enabled endpoint of ``environment`` subscribed to ``event_type``.

    Returns the message ids. Must run inside the caller's transaction so the message commits (or
    rolls back) with the change it describes.
    """
    return enqueue_many(conn, environment, event_type, subscribers(conn, environment, event_type), [payload], now_us)


def enqueue_many(conn, environment: str, event_type: str, endpoint_ids: list[str], payloads: Iterable[dict],
                 now_us: int) -> list[str]:
    """Queue each payload for each of ``endpoint_ids`` (from :func:`subscribers`) in one executemany.

    Returns the message ids. With no endpoint the payloads are not even iterated, so a caller can
    pass a generator and skip building payloads nobody receives.
    """
    if not endpoint_ids:
        return []
    rows = []
    for payload in payloads:
        body = orjson.dumps({"type": event_type, "environment": environment, "data": payload}, default=str).decode()
        for endpoint_id in endpoint_ids:
            rows.append(dict(id=new_id("msg"), environment=environment, endpoint_id=endpoint_id, event_type=event_type,
                             payload=body, created_at=now_us, next_attempt_at=now_us, attempts=0))
    if rows:
        conn.execute(webhook_outbox.insert(), rows)
    return [r["id"] for r in rows]
