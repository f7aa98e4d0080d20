"""Outbox delivery: POST due messages, signed; retry failures with exponential backoff.

A message is *due* when neither delivered nor given up and ``next_attempt_at <= now``. Before
posting, a worker claims it by moving ``next_attempt_at`` forward by a lease (a conditional
UPDATE, so two workers never post the same attempt). A 2xx answer marks it delivered; anything
else schedules attempt ``n + 1`` at ``now + backoff(n)``; after ``max_attempts`` it is marked
failed. The message id (``webhook-id``) is the same on every attempt so receivers can dedupe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from ..storage import webhooks_repo as repo
from ..storage.store import Store
from .endpoints import endpoints_by_id
from .signing import headers

US = 1_000_000
LEASE_US = 60 * US


def backoff(attempts: int, base_seconds: float = 5.0, cap_seconds: float = 6 * 3600) -> int:
    """Delay in microseconds before retry after ``attempts`` failures: base × 2^(attempts−1), capped."""
    return int(min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)) * US)


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Deliverer:
    def __init__(self, store: Store, client: httpx.Client | None = None, max_attempts: int = 10,
                 base_seconds: float = 5.0, timeout: float = 10.0, batch: int = 100):
        self.store = store
        self.client = client or httpx.Client(timeout=timeout)
        self.max_attempts, self.base_seconds, self.batch = max_attempts, base_seconds, batch

    def _claim(self, now: int) -> list:
        with self.store.write() as conn:
            return repo.claim_due(conn, now, LEASE_US, self.batch)

    def _post(self, endpoint, row) -> str | None:
        """None on success, else the error text."""
        stamp = int(self.store.now() // US)
        try:
            r = self.client.post(endpoint.url, content=row.payload.encode(),
                                 headers=headers(endpoint.secret, row.id, stamp, row.payload))
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"

    def deliver_once(self) -> DeliveryReport:
        """One pass over the due messages."""
        report = DeliveryReport()
        rows = self._claim(self.store.now())
        with self.store.read() as conn:
            endpoints = endpoints_by_id(conn, {r.endpoint_id for r in rows})
        for row in rows:
            ep = endpoints.get(row.endpoint_id)
            error = "endpoint removed" if ep is None else ("endpoint disabled" if ep.disabled else self._post(ep, row))
            now, attempts = self.store.now(), row.attempts + 1
            values: dict = {"attempts": attempts, "last_error": error}
            if error is None:
                values["delivered_at"] = now
                report.delivered.append(row.id)
            elif attempts >= self.max_attempts:
                values["failed_at"] = now
                report.failed.append(row.id)
            else:
                values["next_attempt_at"] = now + backoff(attempts, self.base_seconds)
                report.retried.append(row.id)
            with self.store.write() as conn:
                repo.record_attempt(conn, row.id, values)
        return report

    def run(self, interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Deliver until ``should_stop()``; sleeps ``interval`` seconds between idle passes."""
        while not should_stop():
            report = self.deliver_once()
            if not (report.delivered or report.retried or report.failed):
                time.sleep(interval)
