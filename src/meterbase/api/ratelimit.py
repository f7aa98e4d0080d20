"""Per-key rate limiting: an in-process token bucket for every API key and portal token.

Each key may send ``burst`` requests at once and ``rps`` per second sustained. Buckets live in the
server process (with ``--workers N`` each worker keeps its own, so the effective limit is N times
higher); a refused request gets ``429`` with ``Retry-After`` (whole seconds until a token is back).
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

    def acquire(self, key: str) -> float | None:
        """Take one token; None when allowed, else the seconds until one is available."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rps)
            if tokens >= 1.0:
                if len(self._buckets) >= self._MAX_BUCKETS and key not in self._buckets:
                    self._buckets.clear()  # bounded memory; forgetting full buckets is harmless
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rps

    def check(self, key: str) -> None:
        wait = self.acquire(key)
        if wait is not None:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(f"rate limit exceeded for this key ({self.rps:g} requests/s, burst {self.burst}); "
                              f"retry after {retry_after} s", retry_after)
