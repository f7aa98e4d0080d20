"""Durable webhook outbox: messages are written in the same transaction as the change they
announce, one row per subscribed endpoint, and delivered later by the webhook worker.

Writers only call :func:`enqueue`; delivery, signing and retries live in ``meterbase.webhooks``.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from ..ids import new_id
from .schema import webhook_endpoints, webhook_outbox


def enqueue(conn, environment: str, event_type: str, payload: dict, now_us: int) -> list[str]:
    """Queue ``payload`` for every enabled endpoint of ``environment`` subscribed to ``event_type``.

    Returns the message ids. Must run inside the caller's transaction so the message commits (or
    rolls back) with the change it describes.
    """
    ids: list[str] = []
    rows = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.environment == environment, webhook_endpoints.c.disabled.is_(False)
        )
    ).all()
    body = orjson.dumps({"type": event_type, "environment": environment, "data": payload}, default=str).decode()
    for endpoint_id, types_json in rows:
        types = orjson.loads(types_json)
        if types and event_type not in types:
            continue
        msg_id = new_id("msg")
        conn.execute(
            webhook_outbox.insert().values(
                id=msg_id, environment=environment, endpoint_id=endpoint_id, event_type=event_type, payload=body,
                created_at=now_us, next_attempt_at=now_us, attempts=0,
            )
        )
        ids.append(msg_id)
    return ids
