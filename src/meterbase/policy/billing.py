"""Soft-limit overage for invoices, read from the recorded prices: the function the billing side calls.

:func:`overage_lines` is :func:`.overage.lines_from_counters` over the counters stored for one customer of one
environment (``storage.policy_repo.counters_between``), under the environment's active policy document, so an
invoice bills exactly what the customer's ``allow()`` answers said (``overage_price``), rounded once per line.
:func:`overage_lines_ending` is the same on an open connection, for the periods ending inside a billing period.
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
        policy = policy or active_policy(conn, environment)
        rows = repo.counters_between(conn, environment, customer_id, to_us(start), to_us(end))
    return lines_from_counters(rows, policy, customer_id, currency)


def active_policy(conn, environment: str) -> Policy:
    doc = repo.get_document(conn, environment)
    if doc is None:
        raise NotFound(f"no policy loaded for environment {environment!r}", "policy")
    return parse_cached(doc.digest, lambda: doc)


def overage_lines_ending(conn, environment: str, customer_id: str, start: int, end: int,
                         currency: str = "USD") -> list[OverageLine]:
    """Priced overage of ``customer_id``'s periods that *end* in ``(start, end]`` (µs), read on the caller's
    connection: what an invoice of the billing period ``[start, end)`` carries (``invoicing.lines_policy``)."""
    rows = repo.counters_ending_between(conn, environment, customer_id, start, end)
    if not rows:
        return []
    return lines_from_counters(rows, active_policy(conn, environment), customer_id, currency)
