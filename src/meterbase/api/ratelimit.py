"""Rate limiting: in-process token buckets, per API key / portal token and per failing client address.

Each key may send ``burst`` requests at once and ``rps`` per second sustained. Buckets live in the
server process (with ``--workers N`` each worker keeps its own, so the effective limit is N times
higher); a refused request gets ``429`` with ``Retry-After`` (whole seconds until a token is back).

Failed authentications (a presented token that is not a valid key) are charged to the client's
address in a second limiter (``MB_AUTH_FAILURE_BURST`` / ``MB_AUTH_FAILURE_RPS``): once its bucket is
empty, that address gets ``429`` for tokens the server has not verified recently, before any lookup.
Behind a reverse proxy the address is the proxy's unless uvicorn trusts its forwarded headers.
"""

from __future__ import annotations

import math
import threading
import time

from ..errors import MeterbaseError


class RateLimited(MeterbaseError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, "authorization")
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    """Token buckets keyed by key id. ``rps <= 0`` or ``burst <= 0`` disables limiting."""

    _MAX_BUCKETS = 100_000

    def __init__(self, rps: float, burst: int, clock=time.monotonic):
        self.rps, self.burst, self.clock = float(rps), int(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill instant)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rps > 0 and self.burst > 0

    def acquire(self, key: str, take: bool = True) -> float | None:
        """Take one token (with ``take=False`` only look); None when allowed, else the seconds until
        one is available."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rps)
            if tokens >= 1.0:
                if take:
                    if len(self._buckets) >= self._MAX_BUCKETS and key not in self._buckets:
                        self._buckets.clear()  # bounded memory; forgetting full buckets is harmless
                    self._buckets[key] = (tokens - 1.0, now)
                return None
            if take:
                self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rps

    def _refuse(self, wait: float | None, what: str) -> None:
        if wait is not None:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(f"rate limit exceeded for {what} ({self.rps:g} requests/s, burst {self.burst}); "
                              f"retry after {retry_after} s", retry_after)

    def check(self, key: str) -> None:
        self._refuse(self.acquire(key), "this key")

    def check_failures(self, address: str) -> None:
        """Refuse (429) an address whose failed-authentication bucket is empty; takes nothing."""
        self._refuse(self.acquire(address, take=False), "failed authentications from this address")
