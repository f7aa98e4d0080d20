"""Invoice runs, the periods they skipped (needs attention), adjustments of late usage, and per period
the usage invoiced vs the usage now. Included by ``routes.billing`` (same ``/v1`` prefix and tag)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request

from ...invoicing import Billing
from .. import billing_late_schemas as m
from ..auth import Principal, check_customer, customer_reader, own_customer, principal
from ..deps import store
from ..params import Limit, Offset
from ..schemas import answers

router = APIRouter(tags=["billing"])


def billing(request: Request) -> Billing:
    return Billing(store(request))


@router.get("/invoice-runs", summary="Invoice runs, newest first (what each created, finalized, skipped)",
            **answers(m.RunPage))
def list_runs(request: Request, limit: Limit = 20, offset: Offset = 0, p: Principal = Depends(principal)):
    runs = billing(request).list_runs(p.environment, limit, offset)
    return {"data": [r.to_dict() for r in runs]}


@router.get("/invoice-runs/{run_id}", summary="One invoice run with the periods it skipped", **answers(m.RunRecord))
def get_run(request: Request, run_id: str = Path(description="An invoice run id (run_…)."),
            p: Principal = Depends(principal)):
    return billing(request).get_run(p.environment, run_id).to_dict()


@router.get("/skipped-periods", summary="Periods that need attention: skipped by a run, not priced since",
            **answers(m.SkippedPage))
def skipped_periods(request: Request,
                    customer_id: Optional[str] = Query(None, description="One customer's."),
                    limit: Limit = 100, offset: Offset = 0, p: Principal = Depends(principal)):
    """A period is skipped when a meter's value cannot be priced (a negative total of refunds, a total
    ≥ 1e30): the run bills every other period and records it here until a later run prices it."""
    found = billing(request).needs_attention(p.environment, customer_id, limit, offset)
    return {"data": [s.to_dict() for s in found]}


@router.get("/adjustments", summary="Adjustments of late usage (usage that arrived after a period was finalized)",
            **answers(m.AdjustmentPage))
def list_adjustments(request: Request,
                     subscription_id: Optional[str] = Query(None, description="One subscription's."),
                     customer_id: Optional[str] = Query(None, description="One customer's (a portal token: its own)."),
                     status: Optional[str] = Query(None, description="pending | carried | invoiced"),
                     limit: Limit = 100, offset: Offset = 0, p: Principal = Depends(customer_reader)):
    customer_id = own_customer(p, customer_id)
    found = billing(request).list_adjustments(p.environment, limit, offset, subscription_id=subscription_id,
                                              customer_id=customer_id, status=status)
    return {"data": [a.to_dict() for a in found]}


@router.get("/subscriptions/{subscription_id}/periods",
            summary="Per invoiced period: usage invoiced vs usage now (what is pending adjustment)",
            **answers(m.PeriodUsagePage))
def subscription_periods(request: Request,
                         subscription_id: str = Path(description="A subscription id (sub_…)."),
                         limit: int = Query(12, ge=1, le=120, description="Latest periods to show."),
                         p: Principal = Depends(customer_reader)):
    sub, periods = billing(request).periods(p.environment, subscription_id, limit)
    check_customer(p, sub.customer_id, f"subscription {subscription_id!r}", "subscription_id")
    return {"object": "subscription_periods", "subscription_id": sub.id, "customer_id": sub.customer_id,
            "data": [x.to_dict() for x in periods]}
