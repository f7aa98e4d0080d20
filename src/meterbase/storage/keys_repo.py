"""API keys: random bearer tokens stored as SHA-256 digests, scoped to one environment."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from ..errors import NotFound, ValidationError
from ..ids import new_id
from .schema import api_keys as t

ENVIRONMENTS = ("test_mode", "live_mode")
_PREFIX = {"test_mode": "mb_test_", "live_mode": "mb_live_"}


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    environment: str
    prefix: str
    read_only: bool
    created_at: int
    revoked_at: int | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _from_row(row) -> ApiKey:
    return ApiKey(row.id, row.name, row.environment, row.prefix, bool(row.read_only), row.created_at, row.revoked_at)


def create_key(conn, name: str, environment: str, now_us: int, read_only: bool = False) -> tuple[str, ApiKey]:
    """Create a key; the token is returned once and never stored."""
    if environment not in ENVIRONMENTS:
        raise ValidationError(f"environment must be one of {', '.join(ENVIRONMENTS)}", "environment")
    token = _PREFIX[environment] + secrets.token_urlsafe(32)
    key = ApiKey(new_id("key"), name, environment, token[:14], read_only, now_us, None)
    conn.execute(
        t.insert().values(
            id=key.id, name=name, environment=environment, key_hash=digest(token), prefix=key.prefix,
            read_only=read_only, created_at=now_us, revoked_at=None,
        )
    )
    return token, key


def find_key(conn, token: str) -> ApiKey | None:
    row = conn.execute(select(t).where(t.c.key_hash == digest(token), t.c.revoked_at.is_(None))).first()
    return _from_row(row) if row else None


def list_keys(conn) -> list[ApiKey]:
    return [_from_row(r) for r in conn.execute(select(t).order_by(t.c.created_at))]


def revoke_key(conn, key_id: str, now_us: int) -> None:
    res = conn.execute(update(t).where(t.c.id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=now_us))
    if res.rowcount == 0:
        raise NotFound(f"no active key {key_id!r}", "key_id")
