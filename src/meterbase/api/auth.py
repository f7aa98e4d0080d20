"""Bearer-token authentication: resolves the API key (or portal token), and so the environment,
the audit actor and the rate-limit bucket of the request.

Dependencies, from widest to narrowest:

* :func:`customer_reader` — any valid API key, or a portal token (``mb_portal_…``). Routes that take it
  read one customer's usage, entitlements or invoices and narrow a portal token to its own customer
  with :func:`own_customer` / :func:`check_customer`.
* :func:`principal` — any valid API key; portal tokens get ``403``.
* :func:`writer` — an API key that is not read-only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden, NotFound, Unauthorized
from ..storage import audit
from ..storage.keys_repo import PORTAL_PREFIX, ApiKey, find_portal_token

_CACHE_TTL = 5.0  # seconds a verified key is trusted without a lookup (revocation delay bound)


@dataclass(frozen=True)
class Principal:
    key: ApiKey
    #: Set for portal tokens: the only customer whose data this principal may read.
    customer_id: str | None = None

    @property
    def environment(self) -> str:
        return self.key.environment

    @property
    def is_portal(self) -> bool:
        return self.customer_id is not None


class KeyCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        hit = self._items.get(token)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token: str, p: Principal) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[token] = (time.monotonic() + _CACHE_TTL, p)


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <api key>'", "authorization")
    return token.strip()


def _lookup(store, token: str) -> Principal | None:
    if token.startswith(PORTAL_PREFIX):
        with store.read() as conn:
            found = find_portal_token(conn, token, store.now())
        return None if found is None else Principal(found.as_key(), found.customer_id)
    key = store.find_key(token)
    return None if key is None else Principal(key)


async def authenticate(request: Request) -> Principal:
    """Any valid API key or portal token; counts the request against the key's rate limit."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _token(request)
    cache: KeyCache = request.app.state.key_cache
    p = cache.get(token)
    if p is None:
        failures = getattr(request.app.state, "auth_failures", None)
        address = request.client.host if request.client else "unknown"
        if failures is not None:
            failures.check_failures(address)  # an address that keeps failing is refused before any lookup
        p = await run_in_threadpool(_lookup, request.app.state.store, token)
        if p is None:
            if failures is not None:
                failures.acquire(address)
            raise Unauthorized("invalid, expired or revoked API key", "authorization")
        cache.put(token, p)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(p.key.id)
    audit.set_actor(p.key.id)  # this request's context: audit entries written for it name the key
    request.state.principal = p
    return p


async def customer_reader(request: Request) -> Principal:
    """FastAPI dependency: an API key, or a portal token (narrowed by the route to its customer)."""
    return await authenticate(request)


async def principal(request: Request) -> Principal:
    """FastAPI dependency: any valid API key (portal tokens are refused)."""
    p = await authenticate(request)
    if p.is_portal:
        raise Forbidden("portal tokens may only read their own customer's usage, entitlements and invoices",
                        "authorization")
    return p


async def writer(request: Request) -> Principal:
    """FastAPI dependency: a key allowed to write."""
    p = await principal(request)
    if p.key.read_only:
        raise Forbidden("this API key is read-only", "authorization")
    return p


def own_customer(p: Principal, customer_id: str | None, field: str = "customer_id") -> str | None:
    """The customer a read is about: as asked for an API key; always the token's own for a portal token."""
    if not p.is_portal:
        return customer_id
    if customer_id is not None and customer_id != p.customer_id:
        raise Forbidden("this portal token may only read its own customer's data", field)
    return p.customer_id


def check_customer(p: Principal, owner: str, what: str, field: str) -> None:
    """404 when a portal token asks for an object of another customer (its existence is not revealed)."""
    if p.is_portal and owner != p.customer_id:
        raise NotFound(f"{what} not found", field)
