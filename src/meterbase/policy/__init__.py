"""Policy core (pure, no I/O): Limitr-style credits, plans, entitlements and limits, and decisions on them.

Load a document with :func:`load_policy`, resolve a customer's entitlement with ``policy.entitlement(plan,
name)`` and ask :func:`check` / :func:`allow` / :func:`remaining` / :func:`value` / :func:`limit` given the
usage already recorded this period. :mod:`.periods` says when that period started; :mod:`.events` describes
the handler events (``meter-overage``, ``limit-reached``, ``reset``) the storage layer fires.
"""

from .document import Credit, Entitlement, Limit, Plan, Policy, PolicyError, Tier, load_policy
from .engine import Decision, allow, check, limit, overage_between, remaining, value
from .events import LIMIT_REACHED, METER_OVERAGE, RESET, LimitReached, MeterOverage, PolicyEvent, Reset
from .periods import Interval, add_months, current_period, parse_interval, period_index, period_start
from .units import Quantity, convert, parse_duration, parse_quantity

__all__ = [
    "LIMIT_REACHED",
    "METER_OVERAGE",
    "RESET",
    "Credit",
    "Decision",
    "Entitlement",
    "Interval",
    "Limit",
    "LimitReached",
    "MeterOverage",
    "Plan",
    "Policy",
    "PolicyError",
    "PolicyEvent",
    "Quantity",
    "Reset",
    "Tier",
    "add_months",
    "allow",
    "check",
    "convert",
    "current_period",
    "limit",
    "load_policy",
    "overage_between",
    "parse_duration",
    "parse_interval",
    "parse_quantity",
    "period_index",
    "period_start",
    "remaining",
    "value",
]
