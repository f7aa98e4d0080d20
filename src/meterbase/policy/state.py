"""Resolving a decision's state (pure): the customer's plan, entitlement, period and spend caps at an instant.

:func:`resolve` turns a stored customer row, the active document and *now* into a :class:`Resolved`: which
:class:`~.document.Entitlement` applies, the ``[start, end)`` period its usage counts in (``(0, None)`` for a
limit that never resets) and each applicable :class:`~.document.SpendCap` with its own period. Also the helpers
the service's read and write paths share: id validation, memo keys, and the parsed-document cache keyed by digest.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Hashable

from ..errors import ValidationError
from ..events.model import MAX_ID_LEN
from ..ids import new_id
from ..periods import Interval, current_period
from ..timeutil import from_us, to_us
from ..units import exact
from .document import Credit, Entitlement, Policy, PolicyPlan, SpendCap, load_policy

RUNNING_TOTAL_START = 0  # period_start of a limit (or cap) that never resets
Period = tuple[int, int | None]  # (start, end) in µs; end None: a running total


def _period(interval: Interval | None, anchor: int, now: int) -> Period:
    if interval is None:
        return RUNNING_TOTAL_START, None
    start, end = current_period(from_us(anchor), from_us(now), interval)
    return to_us(start), to_us(end)


@dataclass
class Resolved:
    """What a decision on ``entitlement`` needs, resolved at one instant."""

    customer: Any  # storage.policy_repo.PolicyCustomerRow
    version: int | None
    policy: Policy
    plan: PolicyPlan
    entitlement: Entitlement | None
    period: Period | None  # None: nothing to count (not in plan, or a boolean entitlement)
    caps: tuple[tuple[SpendCap, Period], ...] = ()

    @property
    def credit(self) -> Credit | None:
        e = self.entitlement
        return e.limit.credit if e is not None and e.limit is not None else None

    @property
    def cap_keys(self) -> list[tuple[str, int]]:
        return [(cap.name, period[0]) for cap, period in self.caps]

    @property
    def window(self) -> Period | None:
        """The stretch of time over which this resolution stays the same (all its periods overlap)."""
        if self.period is None:
            return None
        periods = [self.period] + [p for _, p in self.caps]
        ends = [e for _, e in periods if e is not None]
        return max(s for s, _ in periods), (min(ends) if ends else None)


def resolve(customer: Any, version: int | None, policy: Policy, entitlement: str, now: int) -> Resolved:
    """The state of ``customer``'s ``entitlement`` at ``now`` (µs) under ``policy``."""
    plan = policy.plan(customer.plan)
    ent = plan.entitlements.get(entitlement)
    if ent is None or ent.limit is None:
        return Resolved(customer, version, policy, plan, ent, None)
    caps = tuple((cap, _period(cap.reset_interval(), customer.anchor, now)) for cap in plan.caps_for(entitlement))
    return Resolved(customer, version, policy, plan, ent, _period(ent.limit.reset_interval(), customer.anchor, now), caps)


def in_window(window: Period | None, now: int) -> bool:
    return window is None or window[1] is None or window[0] <= now < window[1]


# ---------------------------------------------------------------------------------------------- helpers

_PARSED: "OrderedDict[str, Policy]" = OrderedDict()  # digest -> parsed policy, shared by every service
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 64


def parse_cached(digest: str, load: Callable[[], Any]) -> Policy:
    """The parsed document of ``digest``; ``load()`` fetches its row (text) only when it was never parsed."""
    with _PARSED_LOCK:
        hit = _PARSED.get(digest)
        if hit is not None:
            _PARSED.move_to_end(digest)
            return hit
    doc = load()
    parsed = load_policy(doc.source, doc.format)
    with _PARSED_LOCK:
        _PARSED[digest] = parsed
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return parsed


def require_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required and must be a non-empty string", field)
    if len(value) > MAX_ID_LEN:
        raise ValidationError(f"{field} is longer than {MAX_ID_LEN} characters", field)
    return value


def amount_text(amount: Any) -> str:
    """An allow request's amount as given, for the idempotency record (compared on a retry)."""
    if isinstance(amount, Decimal):
        return format(exact(amount), "f") if amount.is_finite() else str(amount)
    return str(amount)


def event_id(environment: str, idempotency_key: str | None) -> str:
    """The usage event's id: derived from the idempotency key, so a retried allow cannot record twice."""
    if idempotency_key is None:
        return new_id("pol")
    return "pol_" + hashlib.blake2b(f"{environment}\x00{idempotency_key}".encode(), digest_size=16).hexdigest()


MEMO_MAX = 32  # memoised check outcomes per cached customer


def memo_key(entitlement: str, amount: Any) -> Hashable | None:
    """Key of a memoised check; None for amounts not worth the risk (bool, float, NaN, other types)."""
    kind = type(amount)
    if amount is None or kind is int or kind is str or (kind is Decimal and amount.is_finite()):
        return entitlement, kind, amount  # equal Decimals (1.0, 1.00) give identical outcomes
    return None
