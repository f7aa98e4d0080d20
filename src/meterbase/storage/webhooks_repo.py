"""Webhook rows: endpoints (``webhook_endpoints``) and the outbox worker's claims and attempt results
(``webhook_outbox``). Writers enqueue messages with :mod:`.outbox`; the rules (URL checks, secrets,
signing, backoff) live in ``meterbase.webhooks``, which calls these functions inside its transactions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update

from .schema import webhook_endpoints as te, webhook_outbox as to


def insert_endpoint(conn, *, id: str, environment: str, url: str, secret: str, event_types_json: str,
                    now_us: int) -> None:
    conn.execute(te.insert().values(id=id, environment=environment, url=url, secret=secret,
                                    event_types=event_types_json, disabled=False, created_at=now_us))


def endpoint_rows(conn, environment: str | None = None) -> list:
    """Endpoint rows, oldest first (every environment's when ``environment`` is None)."""
    q = select(te).order_by(te.c.created_at)
    if environment:
        q = q.where(te.c.environment == environment)
    return conn.execute(q).all()


def endpoint_rows_by_id(conn, ids: set[str]) -> list:
    if not ids:
        return []
    return conn.execute(select(te).where(te.c.id.in_(sorted(ids)))).all()


def claim_due(conn, now: int, lease_us: int, limit: int) -> list:
    """Claim up to ``limit`` due messages (not delivered, not failed, ``next_attempt_at <= now``) by moving
    their ``next_attempt_at`` forward by the lease; a conditional UPDATE, so two workers never claim the same
    attempt. Returns the claimed rows as they were before the claim."""
    rows = conn.execute(
        select(to).where(to.c.delivered_at.is_(None), to.c.failed_at.is_(None), to.c.next_attempt_at <= now)
        .order_by(to.c.next_attempt_at, to.c.created_at).limit(limit)
    ).all()
    claimed = []
    for row in rows:
        res = conn.execute(update(to).where(and_(to.c.id == row.id, to.c.next_attempt_at == row.next_attempt_at))
                           .values(next_attempt_at=now + lease_us))
        if res.rowcount:
            claimed.append(row)
    return claimed


def record_attempt(conn, message_id: str, values: dict[str, Any]) -> None:
    """Store an attempt's outcome: ``attempts``, ``last_error`` and one of ``delivered_at``, ``failed_at`` or
    the next ``next_attempt_at``."""
    conn.execute(update(to).where(to.c.id == message_id).values(**values))
