"""API keys and portal tokens: random bearer tokens stored as SHA-256 digests, scoped to one environment.

Tokens carry 256 bits from ``secrets.token_urlsafe(32)``, so a single fast SHA-256 is the right
digest (a slow password KDF protects low-entropy secrets and would cost every request). Creating and
revoking keys or tokens writes an audit entry in the same transaction.

Portal tokens (``mb_portal_…``) are read-only and bound to one customer; they live in their own
table so nothing that accepts an API key (the dashboard login, say) accepts one by accident.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from ..errors import NotFound, ValidationError
from ..ids import new_id
from . import audit
from .schema import api_keys as t
from .schema import portal_tokens as pt

ENVIRONMENTS = ("test_mode", "live_mode")
_PREFIX = {"test_mode": "mb_test_", "live_mode": "mb_live_"}
PORTAL_PREFIX = "mb_portal_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    environment: str
    prefix: str
    read_only: bool
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True)
class PortalToken:
    id: str
    name: str
    environment: str
    customer_id: str
    prefix: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None

    def as_key(self) -> ApiKey:
        """The read-only key view the API's principal carries."""
        return ApiKey(self.id, self.name, self.environment, self.prefix, True, self.created_at, self.revoked_at)


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
    audit.record(conn, environment, None, "api_key.created", key.id,
                 {"name": name, "prefix": key.prefix, "read_only": read_only}, now_us)
    return token, key


def find_key(conn, token: str) -> ApiKey | None:
    row = conn.execute(select(t).where(t.c.key_hash == digest(token), t.c.revoked_at.is_(None))).first()
    return _from_row(row) if row else None


def list_keys(conn) -> list[ApiKey]:
    return [_from_row(r) for r in conn.execute(select(t).order_by(t.c.created_at))]


def revoke_key(conn, key_id: str, now_us: int) -> None:
    """Revoke an API key (or, given a ``ptk_`` id, a portal token)."""
    if key_id.startswith("ptk_"):
        return revoke_portal_token(conn, key_id, now_us)
    row = conn.execute(select(t.c.environment).where(t.c.id == key_id, t.c.revoked_at.is_(None))).first()
    res = conn.execute(update(t).where(t.c.id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=now_us))
    if row is None or res.rowcount == 0:
        raise NotFound(f"no active key {key_id!r}", "key_id")
    audit.record(conn, row.environment, None, "api_key.revoked", key_id, {}, now_us)


# -- portal tokens ---------------------------------------------------------------------------------
def _portal(row) -> PortalToken:
    return PortalToken(row.id, row.name, row.environment, row.customer_id, row.prefix, row.created_at,
                       row.expires_at, row.revoked_at)


def create_portal_token(conn, environment: str, customer_id: str, now_us: int, name: str = "portal",
                        expires_at: int | None = None) -> tuple[str, PortalToken]:
    """A read-only token for ``customer_id``'s usage, entitlements and invoices; returned once, never stored."""
    if environment not in ENVIRONMENTS:
        raise ValidationError(f"environment must be one of {', '.join(ENVIRONMENTS)}", "environment")
    if not isinstance(customer_id, str) or not customer_id.strip() or len(customer_id) > 255:
        raise ValidationError("customer_id is required (a non-empty string of at most 255 characters)", "customer_id")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise ValidationError("name must be a non-empty string of at most 255 characters", "name")
    if expires_at is not None and expires_at <= now_us:
        raise ValidationError("expires_at must be in the future", "expires_at")
    token = PORTAL_PREFIX + secrets.token_urlsafe(32)
    tok = PortalToken(new_id("ptk"), name, environment, customer_id, token[:16], now_us, expires_at, None)
    conn.execute(pt.insert().values(
        id=tok.id, environment=environment, customer_id=customer_id, name=name, token_hash=digest(token),
        prefix=tok.prefix, created_at=now_us, expires_at=expires_at, revoked_at=None,
    ))
    audit.record(conn, environment, None, "portal_token.created", tok.id,
                 {"customer_id": customer_id, "name": name, "prefix": tok.prefix, "expires_at": expires_at}, now_us)
    return token, tok


def find_portal_token(conn, token: str, now_us: int) -> PortalToken | None:
    """The active (not revoked, not expired) portal token with this value."""
    if not token.startswith(PORTAL_PREFIX):
        return None
    row = conn.execute(select(pt).where(pt.c.token_hash == digest(token), pt.c.revoked_at.is_(None))).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now_us):
        return None
    return _portal(row)


def list_portal_tokens(conn, environment: str | None = None, customer_id: str | None = None) -> list[PortalToken]:
    q = select(pt).order_by(pt.c.created_at)
    if environment:
        q = q.where(pt.c.environment == environment)
    if customer_id:
        q = q.where(pt.c.customer_id == customer_id)
    return [_portal(r) for r in conn.execute(q)]


def revoke_portal_token(conn, token_id: str, now_us: int, environment: str | None = None) -> None:
    q = select(pt.c.environment, pt.c.customer_id).where(pt.c.id == token_id, pt.c.revoked_at.is_(None))
    if environment:
        q = q.where(pt.c.environment == environment)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no active portal token {token_id!r}", "token_id")
    conn.execute(update(pt).where(pt.c.id == token_id).values(revoked_at=now_us))
    audit.record(conn, row.environment, None, "portal_token.revoked", token_id, {"customer_id": row.customer_id}, now_us)
