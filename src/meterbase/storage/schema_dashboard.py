"""Tables of the web dashboard: revoked session ids (logout ends a session server-side)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from .schema import metadata

#: A session id listed here is refused even with a valid signature, until its cookie would have expired.
dashboard_revoked_sessions = Table(
    "dashboard_revoked_sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),  # unix seconds: the cookie's own expiry
)
