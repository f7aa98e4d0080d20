"""Soft-limit overage for invoices, read from the recorded prices: the function the billing side calls.

:func:`overage_lines` is :func:`.overage.lines_from_counters` over the counters stored for one customer of one
environment (``storage.policy_repo.counters_between``), under the environment's active policy document, so an
invoice bills exactly what the customer's ``allow()`` answers said (``overage_price``), rounded once per line.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import NotFound
from ..storage import policy_repo as repo
from ..timeutil import to_us
from .document import Policy
from .overage import OverageLine, lines_from_counters
from .state import parse_cached


def overage_lines(
    store, environment: str, customer_id: str, start: datetime, end: datetime, currency: str = "USD",
    policy: Policy | None = None,
) -> list[OverageLine]:
    """Priced overage of ``customer_id``'s periods starting in ``[start, end)``, one line per entitlement and
    period. ``policy`` (default: the environment's active document) names each counter's credit; a limit that
    never resets has one running counter, listed when ``start`` is at or before the epoch."""
    with store.read() as conn:
        if policy is None:
            doc = repo.get_document(conn, environment)
            if doc is None:
                raise NotFound(f"no policy loaded for environment {environment!r}", "policy")
            policy = parse_cached(doc.digest, lambda: doc)
        rows = repo.counters_between(conn, environment, customer_id, to_us(start), to_us(end))
    return lines_from_counters(rows, policy, customer_id, currency)
