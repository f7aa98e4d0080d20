"""Bearer-token authentication: resolves the API key and so the environment of the request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request

from ..errors import Forbidden, Unauthorized
from ..storage.keys_repo import ApiKey

_CACHE_TTL = 5.0  # seconds a verified key is trusted without a lookup (revocation delay bound)


@dataclass(frozen=True)
class Principal:
    key: ApiKey

    @property
    def environment(self) -> str:
        return self.key.environment


class KeyCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, ApiKey]] = {}

    def get(self, token: str) -> ApiKey | None:
        hit = self._items.get(token)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token: str, key: ApiKey) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[token] = (time.monotonic() + _CACHE_TTL, key)


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <api key>'", "authorization")
    return token.strip()


def principal(request: Request) -> Principal:
    """FastAPI dependency: any valid key."""
    token = _token(request)
    cache: KeyCache = request.app.state.key_cache
    key = cache.get(token)
    if key is None:
        key = request.app.state.store.find_key(token)
        if key is None:
            raise Unauthorized("invalid or revoked API key", "authorization")
        cache.put(token, key)
    return Principal(key)


def writer(request: Request) -> Principal:
    """FastAPI dependency: a key allowed to write."""
    p = principal(request)
    if p.key.read_only:
        raise Forbidden("this API key is read-only", "authorization")
    return p
