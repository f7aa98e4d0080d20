"""Dashboard wiring (``meterbase.dashboard.providers``): a customer's metered entitlements this period.

Read-only; the same counters :class:`~meterbase.policy.service.PolicyService` decides on, so the dashboard
shows what ``allow()`` enforces, with what the period's calls were worth (``price``), what is billable as
overage (``overage_price``) and what they cost you (``cost``), in the policy's money. Customers without a policy
assignment (or no policy at all) have none.
"""

from __future__ import annotations

from ..errors import NotFound
from ..timeutil import iso
from .results import text as _text
from .service import PolicyService


def entitlements(store, environment: str, customer_id: str) -> list[dict]:
    """``name, unit, used, limit, remaining, resets_at`` (+ ``mode``, ``overage``, ``price``, ``overage_price``,
    ``cost``) per limited entitlement."""
    svc = PolicyService(store, environment=environment)
    customer = svc.get_customer(customer_id)
    if customer is None:
        return []
    try:
        plan = svc.policy.plans.get(customer.plan)
    except NotFound:
        return []
    if plan is None:
        return []
    out = []
    for name, ent in plan.entitlements.items():
        if ent.limit is None:
            continue
        s = svc.status(customer_id, name)
        out.append({
            "name": name,
            "unit": ent.limit.credit.stof_units or ent.limit.credit.name,
            "used": _text(s.used),
            "limit": _text(s.limit),
            "remaining": _text(s.remaining),
            "resets_at": None if s.period_end is None else iso(s.period_end),
            "mode": s.mode,
            "overage": _text(s.overage),
            "price": _text(s.price),
            "overage_price": _text(s.overage_price),
            "cost": _text(s.cost),
        })
    return out
