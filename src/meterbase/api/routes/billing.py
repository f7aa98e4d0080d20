"""Native billing API under ``/v1``: customers, products, subscriptions, invoices and previews.

Bodies are parsed by the pure billing core (``meterbase.billing``), so every rule gives the same
422 ``{code, message, field}`` here, in the Dodo-compatible routes and in the CLI.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ...errors import ValidationError
from ...invoicing import Billing
from ...invoicing.runner import DEFAULT_LOOKBACK_DAYS
from ...timeutil import from_us
from .. import billing_schemas as m
from .billing_late import router as late_router
from ..auth import Principal, check_customer, customer_reader, own_customer, principal, writer
from ..deps import MAX_OFFSET, instant_param, json_body, store
from ..error_docs import UNBILLABLE, with_errors
from ..schemas import answers, body_doc

router = APIRouter(prefix="/v1", tags=["billing"])


def billing(request: Request) -> Billing:
    return Billing(store(request))


def at_param(value: Optional[str], field: str):
    """An optional ISO-8601 query/body instant as an aware datetime (None when absent)."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be an ISO-8601 instant (a string)", field)
    us = instant_param(value, field)
    return None if us is None else from_us(us)


async def body_of(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", "body")
    return body


async def optional_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    return await body_of(request) if raw.strip() else {}


def only(body: dict, *keys: str) -> dict:
    """``body`` when it holds no other field than ``keys`` (else 422 naming the first unknown one)."""
    extra = sorted(set(body) - set(keys))
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])
    return body


def _sub(request: Request, sub) -> dict:
    return sub.to_dict(store(request).now())


LIMIT = Query(100, ge=1, le=1000, description="Page size.")
OFFSET = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip (page × limit).")
CUSTOMER_ID = Path(description="The customer's id (the customer_id its events carry).")
PRODUCT_ID = Path(description="A product id (prd_…).")
SUBSCRIPTION_ID = Path(description="A subscription id (sub_…).")
INVOICE_ID = Path(description="An invoice id (inv_…).")


# -- customers -------------------------------------------------------------------------------------
@router.post("/customers", status_code=201, summary="Create a customer (id = the customer_id events carry)",
             openapi_extra=body_doc(m.CustomerCreate), **answers(m.CustomerOut, 201, "The customer"))
async def create_customer(request: Request, p: Principal = Depends(writer)):
    """``email`` and ``name`` are required; ``id`` defaults to a generated ``cus_…``. Audited
    (``customer.created``). 409 when the id exists."""
    body = await body_of(request)
    return (await run_in_threadpool(billing(request).create_customer, p.environment, body)).to_dict()


@router.get("/customers", summary="List customers, newest first", **answers(m.CustomerPage))
def list_customers(request: Request, email: Optional[str] = Query(None, description="Exact email to find."),
                   limit: int = LIMIT, offset: int = OFFSET, p: Principal = Depends(principal)):
    return {"data": [c.to_dict() for c in billing(request).list_customers(p.environment, limit, offset, email=email)]}


@router.get("/customers/{customer_id}", summary="Retrieve a customer", **answers(m.CustomerOut))
def get_customer(request: Request, customer_id: str = CUSTOMER_ID, p: Principal = Depends(principal)):
    return billing(request).get_customer(p.environment, customer_id).to_dict()


# -- products --------------------------------------------------------------------------------------
@router.post("/products", status_code=201, summary="Create a product: fixed fee + up to 10 priced meters",
             openapi_extra=body_doc(m.ProductCreate), **answers(m.ProductOut, 201, "The product"))
async def create_product(request: Request, p: Principal = Depends(writer)):
    """Price models: ``per_unit``, ``graduated``, ``volume``, ``package``, ``flat``, each with an optional
    ``free_threshold``, ``minimum`` and ``maximum``. Every meter must exist. Audited (``product.created``)."""
    body = await body_of(request)
    return (await run_in_threadpool(billing(request).create_product, p.environment, body)).to_dict()


@router.get("/products", summary="List products, newest first", **answers(m.ProductPage))
def list_products(request: Request, limit: int = LIMIT, offset: int = OFFSET, p: Principal = Depends(principal)):
    return {"data": [x.to_dict() for x in billing(request).list_products(p.environment, limit, offset)]}


@router.get("/products/{product_id}", summary="Retrieve a product", **answers(m.ProductOut))
def get_product(request: Request, product_id: str = PRODUCT_ID, p: Principal = Depends(principal)):
    return billing(request).get_product(p.environment, product_id).to_dict()


# -- subscriptions ---------------------------------------------------------------------------------
@router.post("/subscriptions", status_code=201, summary="Subscribe a customer to a product",
             openapi_extra=body_doc(m.SubscriptionCreate), **answers(m.SubscriptionOut, 201, "The subscription"))
async def create_subscription(request: Request, p: Principal = Depends(writer)):
    body = await body_of(request)
    return _sub(request, await run_in_threadpool(billing(request).create_subscription, p.environment, body))


@router.get("/subscriptions", summary="List subscriptions, newest first", **answers(m.SubscriptionPage))
def list_subscriptions(request: Request,
                       customer_id: Optional[str] = Query(None, description="One customer's (a portal token: its own)."),
                       product_id: Optional[str] = Query(None, description="Subscriptions to this product."),
                       limit: int = LIMIT, offset: int = OFFSET, p: Principal = Depends(customer_reader)):
    customer_id = own_customer(p, customer_id)
    subs = billing(request).list_subscriptions(p.environment, limit, offset, customer_id=customer_id,
                                               product_id=product_id)
    return {"data": [_sub(request, s) for s in subs]}


@router.get("/subscriptions/{subscription_id}", summary="Retrieve a subscription", **answers(m.SubscriptionOut))
def get_subscription(request: Request, subscription_id: str = SUBSCRIPTION_ID, p: Principal = Depends(customer_reader)):
    sub = billing(request).get_subscription(p.environment, subscription_id)
    check_customer(p, sub.customer_id, f"subscription {subscription_id!r}", "subscription_id")
    return _sub(request, sub)


@router.post("/subscriptions/{subscription_id}/change-plan",
             summary="Switch product from effective_at (default now); fixed fees are prorated",
             openapi_extra=body_doc(m.ChangePlan), **answers(m.SubscriptionOut))
async def change_plan(request: Request, subscription_id: str = SUBSCRIPTION_ID, p: Principal = Depends(writer)):
    body = only(await body_of(request), "product_id", "effective_at", "quantity")
    if not isinstance(body.get("product_id"), str):
        raise ValidationError("product_id is required", "product_id")
    quantity = body.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1):
        raise ValidationError("quantity must be a positive integer", "quantity")
    sub = await run_in_threadpool(billing(request).change_plan, p.environment, subscription_id, body["product_id"],
                                  at_param(body.get("effective_at"), "effective_at"), quantity)
    return _sub(request, sub)


@router.post("/subscriptions/{subscription_id}/cancel", summary="Cancel at the end of the current period",
             openapi_extra=body_doc(m.Cancel, required=False, description="Optional; default at_period_end true."),
             **answers(m.SubscriptionOut))
async def cancel(request: Request, subscription_id: str = SUBSCRIPTION_ID, p: Principal = Depends(writer)):
    body = only(await optional_body(request), "at_period_end")
    flag = body.get("at_period_end", True)
    if not isinstance(flag, bool):
        raise ValidationError("at_period_end must be a boolean", "at_period_end")
    return _sub(request, await run_in_threadpool(billing(request).cancel, p.environment, subscription_id, flag))


@router.get("/subscriptions/{subscription_id}/upcoming-invoice",
            summary="What the customer owes so far this period (nothing is stored)",
            **with_errors(answers(m.UpcomingInvoice), UNBILLABLE))
def upcoming_invoice(request: Request, subscription_id: str = SUBSCRIPTION_ID,
                     at: Optional[str] = Query(None, description="ISO-8601 instant: usage up to it, in the period "
                                                                 "containing it. Default now."),
                     p: Principal = Depends(customer_reader)):
    if p.is_portal:
        owner = billing(request).get_subscription(p.environment, subscription_id).customer_id
        check_customer(p, owner, f"subscription {subscription_id!r}", "subscription_id")
    sub, draft = billing(request).preview(p.environment, subscription_id, at_param(at, "at"))
    as_of = at_param(at, "at") or from_us(store(request).now())
    return {"object": "upcoming_invoice", "subscription_id": sub.id, "customer_id": sub.customer_id,
            "as_of": as_of.isoformat().replace("+00:00", "Z"), **draft.to_dict()}


@router.post("/subscriptions/{subscription_id}/invoices",
             summary="Invoice the ended period containing 'at' (idempotent: 201 new, 200 existing)",
             openapi_extra=body_doc(m.InvoiceAt),
             responses={200: {"model": m.InvoiceOut, "description": "Already invoiced: the existing invoice"},
                        201: {"model": m.InvoiceOut, "description": "The new draft invoice"}, **UNBILLABLE})
async def create_invoice(request: Request, response: Response, subscription_id: str = SUBSCRIPTION_ID,
                         p: Principal = Depends(writer)):
    body = only(await body_of(request), "at")
    at = at_param(body.get("at"), "at")
    if at is None:
        raise ValidationError("at (an instant inside the period to invoice) is required", "at")
    invoice, created = await run_in_threadpool(billing(request).create_invoice, p.environment, subscription_id, at)
    response.status_code = 201 if created else 200
    return invoice.to_dict()


@router.post("/subscriptions/{subscription_id}/thresholds/check",
             summary="Queue usage.threshold_reached for thresholds crossed this period", **answers(m.ThresholdsOut))
def check_thresholds(request: Request, subscription_id: str = SUBSCRIPTION_ID, p: Principal = Depends(writer)):
    return {"reached": billing(request).check_thresholds(p.environment, subscription_id)}


# -- invoices --------------------------------------------------------------------------------------
@router.get("/invoices", summary="List invoices, newest period first", **answers(m.InvoicePage))
def list_invoices(request: Request,
                  subscription_id: Optional[str] = Query(None, description="One subscription's invoices."),
                  customer_id: Optional[str] = Query(None, description="One customer's (a portal token: its own)."),
                  status: Optional[str] = Query(None, description="draft | finalized | void"),
                  limit: int = LIMIT, offset: int = OFFSET, p: Principal = Depends(customer_reader)):
    customer_id = own_customer(p, customer_id)
    found = billing(request).list_invoices(p.environment, limit, offset, subscription_id=subscription_id,
                                           customer_id=customer_id, status=status)
    return {"data": [i.to_dict() for i in found]}


@router.post("/invoices/run", summary="Invoice every due period up to 'until' (default now); idempotent",
             openapi_extra=body_doc(m.InvoiceRun, required=False, description="Optional."), **answers(m.RunOut))
async def run_invoices(request: Request, p: Principal = Depends(writer)):
    """Periods no price can take are skipped and listed (``skipped``; also ``GET /v1/skipped-periods``)
    while every other invoice is created: the answer is 200 either way. ``finalize`` freezes the periods
    past their grace period (``in_grace`` lists the drafts left), ``finalize_now`` every one. Late usage of
    periods finalized within ``lookback_days`` becomes adjustments (``adjustments``) on the next invoice."""
    body = only(await optional_body(request), "until", "finalize", "finalize_now", "lookback_days")
    until = at_param(body.get("until"), "until") or from_us(store(request).now())
    flags = {}
    for name in ("finalize", "finalize_now"):
        flags[name] = body.get(name, False)
        if not isinstance(flags[name], bool):
            raise ValidationError(f"{name} must be a boolean", name)
    lookback = body.get("lookback_days", DEFAULT_LOOKBACK_DAYS)
    result = await run_in_threadpool(billing(request).run, until, p.environment, flags["finalize"], None,
                                     flags["finalize_now"], lookback)
    return {"run_id": result.run_ids[0], "created": result.created, "existing": result.existing,
            "finalized": result.finalized, "in_grace": result.in_grace, "adjustments": result.adjustments,
            "skipped": [s.to_dict() for s in result.skipped], "thresholds_reached": result.thresholds}


@router.get("/invoices/{invoice_id}", summary="Retrieve an invoice", **answers(m.InvoiceOut))
def get_invoice(request: Request, invoice_id: str = INVOICE_ID, p: Principal = Depends(customer_reader)):
    invoice = billing(request).get_invoice(p.environment, invoice_id)
    check_customer(p, invoice.customer_id, f"invoice {invoice_id!r}", "invoice_id")
    return invoice.to_dict()


@router.post("/invoices/{invoice_id}/finalize", summary="Re-price a draft and freeze it (draft → finalized)",
             **with_errors(answers(m.InvoiceOut), UNBILLABLE))
def finalize_invoice(request: Request, invoice_id: str = INVOICE_ID, p: Principal = Depends(writer)):
    """Idempotent for a finalized invoice; 409 for a void one. Audited (``invoice.finalized``)."""
    return billing(request).finalize(p.environment, invoice_id).to_dict()


@router.post("/invoices/{invoice_id}/void", summary="Void an invoice (terminal)", **answers(m.InvoiceOut))
def void_invoice(request: Request, invoice_id: str = INVOICE_ID, p: Principal = Depends(writer)):
    """Idempotent. Audited (``invoice.voided``)."""
    return billing(request).void(p.environment, invoice_id).to_dict()


router.include_router(late_router)  # invoice runs, skipped periods, adjustments, per-period late usage
