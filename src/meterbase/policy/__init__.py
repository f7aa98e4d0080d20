"""Policy (check / allow): Limitr-style plans, credits, entitlements, limits and spend caps, and decisions.

The pure rules (no I/O): load a document with :func:`load_policy` (:mod:`.document` is the model, :mod:`.reader`
the parser), resolve a customer's entitlement with ``policy.entitlement(plan, name)`` and ask :func:`check` /
:func:`allow` / :func:`remaining` / :func:`value` / :func:`limit` given the usage already recorded this period
(:mod:`.engine`, state resolved by :mod:`.state`). :mod:`.pricing` prices a credit's units with Limitr's curves
(``flat``, ``tiered``, ``volume``, ``stairstep``) from the customer's position; :mod:`.caps` applies spend caps;
:mod:`.overage` turns soft-limit overage into invoice lines; :mod:`.events` describes the handler events. Periods
and unit strings are shared with billing and sessions: :mod:`meterbase.periods`, :mod:`meterbase.units`.

The durable use cases on top (through storage) are :class:`~.service.PolicyService` (its read side in
:mod:`.reads`, answers in :mod:`.results`), the invoice lines of soft-limit overage :func:`.billing.overage_lines`,
the grant-ledger hook :mod:`.covering`; batch jobs :mod:`.jobs`; dashboard rows :mod:`.dashboard_provider`.
"""

from .caps import CapResult, CapState
from .document import Credit, CreditTier, Entitlement, Limit, Policy, PolicyError, PolicyPlan, SpendCap, load_policy
from .engine import Decision, allow, check, limit, overage_between, remaining, remaining_percent, value
from .events import (
    CAP_LIMIT, CAP_THRESHOLD_CROSSED, LIMIT_REACHED, METER_CHANGED, METER_OVERAGE, RESET, CapLimit, CapThresholdCrossed,
    LimitReached, MeterChanged, MeterOverage, PolicyEvent, Reset,
)
from .pricing import band, price_of, quantity_for, total_price

__all__ = [
    "CAP_LIMIT", "CAP_THRESHOLD_CROSSED", "LIMIT_REACHED", "METER_CHANGED", "METER_OVERAGE", "RESET",
    "CapLimit", "CapResult", "CapState", "CapThresholdCrossed", "Credit", "CreditTier", "Decision", "Entitlement",
    "Limit", "LimitReached", "MeterChanged", "MeterOverage", "Policy", "PolicyError", "PolicyEvent", "PolicyPlan",
    "Reset", "SpendCap", "allow", "band", "check", "limit", "load_policy", "overage_between", "price_of",
    "quantity_for", "remaining", "remaining_percent", "total_price", "value",
]
