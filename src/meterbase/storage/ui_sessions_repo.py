"""Revoked dashboard sessions: written at logout, read on every dashboard request."""

from __future__ import annotations

from sqlalchemy import delete, select

from .schema_dashboard import dashboard_revoked_sessions as t
from .upsert import insert


def revoke(conn, sid: str, expires_at: int, now: int) -> None:
    """Refuse ``sid`` from now on (until ``expires_at``, when its cookie is worthless anyway); forget
    revocations whose cookies have expired."""
    conn.execute(delete(t).where(t.c.expires_at < now))
    conn.execute(insert(conn, t).values(sid=sid, expires_at=expires_at).on_conflict_do_nothing(index_elements=["sid"]))


def is_revoked(conn, sid: str) -> bool:
    return conn.execute(select(t.c.sid).where(t.c.sid == sid)).first() is not None
