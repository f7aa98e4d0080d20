"""Dodo-Payments-compatible billing routes at the root: ``/products``, ``/customers`` and
``/subscriptions`` (create, retrieve, list), shaped like the ``dodopayments`` SDK's types.

Dodo money is in minor units; conversion lives in ``meterbase.billing.dodo``. Lists answer
``{"items": [...]}`` with 0-based ``page_number`` and ``page_size`` (≤ 100), like the meter routes.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from ...billing.dodo import INTERVALS, dodo_price, meter_cart, product_from_dodo
from ...billing.periods import period_at
from ...credits import products as product_credits
from ...errors import NotFound, ValidationError
from ...ids import new_id
from ...pricing import Money
from ...timeutil import from_us, iso_us
from .. import dodo_schemas as d
from ..auth import Principal, principal, writer
from ..deps import MAX_PAGE
from ..schemas import answers, body_doc
from .billing import billing, body_of

router = APIRouter(tags=["dodo-compatible"])
BRAND_ID = "brd_default"
PAGE_NUMBER = Query(0, ge=0, le=MAX_PAGE, description="0-based page.")
PAGE_SIZE = Query(10, ge=1, le=100, description="Items per page.")


def _bid(request: Request) -> str:
    return request.app.state.settings.business_id


def _page(page_number: int, page_size: int) -> tuple[int, int]:
    return page_size, page_number * page_size


# -- shapes ----------------------------------------------------------------------------------------
def product_json(request: Request, prod) -> dict:
    return {
        "product_id": prod.id, "business_id": _bid(request), "brand_id": BRAND_ID, "name": prod.plan.name,
        "description": prod.plan.description, "price": dodo_price(prod.plan), "tax_category": prod.tax_category or "saas",
        "is_recurring": True, "license_key_enabled": False, "metadata": prod.metadata,
        "credit_entitlements": _credits(request, prod),
        "entitlements": [], "addons": [], "created_at": iso_us(prod.created_at), "updated_at": iso_us(prod.updated_at),
    }


def _credits(request: Request, prod) -> list[dict]:
    if not prod.plan.credits:
        return []
    with billing(request).store.read() as conn:
        return product_credits.dodo_mappings(conn, prod.environment, prod.id, prod.plan)


def product_item_json(request: Request, prod) -> dict:
    full = product_json(request, prod)
    return {**{k: full[k] for k in ("product_id", "business_id", "name", "description", "tax_category",
                                    "is_recurring", "metadata", "entitlements", "created_at", "updated_at")},
            "currency": prod.plan.currency, "price": prod.plan.fixed_fee.minor, "price_detail": full["price"],
            "tax_inclusive": False}


def customer_json(request: Request, c) -> dict:
    return {"customer_id": c.id, "business_id": _bid(request), "email": c.email, "name": c.name,
            "phone_number": c.phone_number, "metadata": c.metadata, "created_at": iso_us(c.created_at)}


def _limited(c) -> dict:
    return {"customer_id": c.id, "email": c.email, "name": c.name, "metadata": c.metadata,
            "phone_number": c.phone_number}


def subscription_json(request: Request, sub, full: bool = True) -> dict:
    b = billing(request)
    now = b.store.now()
    product, customer = b.get_product(sub.environment, sub.product_id), b.get_customer(sub.environment, sub.customer_id)
    plan = product.plan
    period = period_at(sub.start, sub.anchor, sub.cycle, max(from_us(now), sub.start))
    status = sub.status(now)
    out = {
        "subscription_id": sub.id, "product_id": sub.product_id, "quantity": sub.quantity, "status": status,
        "customer": _limited(customer), "billing": sub.billing or {"country": "US"}, "metadata": sub.metadata,
        "currency": plan.currency, "cancel_at_next_billing_date": sub.cancel_at_period_end,
        "created_at": iso_us(sub.created_at), "has_payment_method": False, "on_demand": False,
        "next_billing_date": iso_us(sub.ends_at) if status == "cancelled" else period.end.isoformat(),
        "previous_billing_date": period.start.isoformat(),
        "payment_frequency_count": sub.cycle.count, "payment_frequency_interval": INTERVALS[sub.cycle.unit],
        "subscription_period_count": 20, "subscription_period_interval": "Year",
        "recurring_pre_tax_amount": Money(plan.fixed_fee.amount * sub.quantity, plan.currency).minor,
        "tax_inclusive": False, "trial_period_days": 0,
        "cancelled_at": iso_us(sub.ends_at) if status == "cancelled" else None,
    }
    if not full:
        return {**out, "discounts": [], "product_name": plan.name}
    units = {line.meter_id: b.store.get_meter(sub.environment, line.meter_id).spec.measurement_unit
             for line in plan.usage}
    names = {line.meter_id: b.store.get_meter(sub.environment, line.meter_id).spec.name for line in plan.usage}
    with b.store.read() as conn:
        carts, meter_carts = product_credits.dodo_carts(conn, sub.environment, sub, now, names)
    return {**out, "addons": [], "brand_id": BRAND_ID, "credit_entitlement_cart": carts,
            "meter_credit_entitlement_cart": meter_carts, "meters": meter_cart(plan, units)}


# -- products --------------------------------------------------------------------------------------
@router.post("/products", summary="Create a product (Dodo shape, minor units)", openapi_extra=body_doc(d.DodoProductCreate),
             **answers(d.DodoProductOut))
async def create_product(request: Request, p: Principal = Depends(writer)):
    native, tax = product_from_dodo(await body_of(request))
    native["tax_category"] = tax
    prod = await run_in_threadpool(billing(request).create_product, p.environment, native)
    return product_json(request, prod)


@router.get("/products", summary="List products", **answers(d.DodoProductPage))
def list_products(request: Request, archived: Optional[bool] = Query(False, description="true: archived only."),
                  page_number: int = PAGE_NUMBER, page_size: int = PAGE_SIZE, p: Principal = Depends(principal)):
    found = billing(request).list_products(p.environment, *_page(page_number, page_size), archived=bool(archived))
    return {"items": [product_item_json(request, x) for x in found]}


@router.get("/products/{product_id}", summary="Retrieve a product", **answers(d.DodoProductOut))
def get_product(request: Request, product_id: str = Path(description="A product id."), p: Principal = Depends(principal)):
    return product_json(request, billing(request).get_product(p.environment, product_id))


# -- customers -------------------------------------------------------------------------------------
@router.post("/customers", summary="Create a customer (email and name required)",
             openapi_extra=body_doc(d.DodoCustomerCreate), **answers(d.DodoCustomerOut))
async def create_customer(request: Request, p: Principal = Depends(writer)):
    body = await body_of(request)
    fields = {k: body.get(k) for k in ("email", "name", "phone_number", "metadata") if body.get(k) is not None}
    return customer_json(request, await run_in_threadpool(billing(request).create_customer, p.environment, fields))


@router.get("/customers", summary="List customers", **answers(d.DodoCustomerPage))
def list_customers(request: Request, email: Optional[str] = Query(None, description="Exact email."),
                   name: Optional[str] = Query(None, description="Part of the name, case-insensitive."),
                   page_number: int = PAGE_NUMBER, page_size: int = PAGE_SIZE, p: Principal = Depends(principal)):
    found = billing(request).list_customers(p.environment, *_page(page_number, page_size), email=email, name=name)
    return {"items": [customer_json(request, c) for c in found]}


@router.get("/customers/{customer_id}", summary="Retrieve a customer", **answers(d.DodoCustomerOut))
def get_customer(request: Request, customer_id: str = Path(description="A customer id."),
                 p: Principal = Depends(principal)):
    return customer_json(request, billing(request).get_customer(p.environment, customer_id))


# -- subscriptions ---------------------------------------------------------------------------------
def _customer_for(b, env: str, raw) -> str:
    """``{"customer_id"}`` (must exist) or ``{"email", "name"?}`` (found by email, else created)."""
    if not isinstance(raw, dict):
        raise ValidationError("customer must be {customer_id} or {email, name}", "customer")
    if raw.get("customer_id"):
        return b.get_customer(env, raw["customer_id"]).id
    email = raw.get("email")
    found = b.list_customers(env, 1, 0, email=email) if isinstance(email, str) else []
    if found:
        return found[0].id
    fields = {"email": email, "name": raw.get("name") or email, "phone_number": raw.get("phone_number")}
    return b.create_customer(env, {k: v for k, v in fields.items() if v is not None}).id


def _create_subscription(b, env: str, body: dict):
    billing_addr = body.get("billing")
    if not isinstance(billing_addr, dict) or not isinstance(billing_addr.get("country"), str):
        raise ValidationError("billing.country is required", "billing.country")
    customer_id = _customer_for(b, env, body.get("customer"))
    return b.create_subscription(env, {
        "customer_id": customer_id, "product_id": body.get("product_id"), "quantity": body.get("quantity", 1),
        "billing": billing_addr, "metadata": body.get("metadata") or {},
    })


@router.post("/subscriptions", summary="Subscribe a customer (found or created) to a product",
             openapi_extra=body_doc(d.DodoSubscriptionCreate), **answers(d.DodoSubscriptionCreated))
async def create_subscription(request: Request, p: Principal = Depends(writer)):
    body = await body_of(request)
    b = billing(request)
    sub = await run_in_threadpool(_create_subscription, b, p.environment, body)
    full = subscription_json(request, sub)
    return {"subscription_id": sub.id, "payment_id": new_id("pay"), "customer": full["customer"],
            "metadata": sub.metadata, "addons": [], "payment_method_required": False,
            "recurring_pre_tax_amount": full["recurring_pre_tax_amount"], "expires_on": None}


@router.get("/subscriptions", summary="List subscriptions", **answers(d.DodoSubscriptionPage))
def list_subscriptions(request: Request, customer_id: Optional[str] = Query(None, description="One customer's."),
                       product_id: Optional[str] = Query(None, description="Subscriptions to this product."),
                       status: Optional[str] = Query(None, description="active or cancelled."),
                       cancel_at_next_billing_date: Optional[bool] = Query(None, description="Pending cancellation."),
                       page_number: int = PAGE_NUMBER, page_size: int = PAGE_SIZE, p: Principal = Depends(principal)):
    subs = billing(request).list_subscriptions(p.environment, *_page(page_number, page_size),
                                               customer_id=customer_id, product_id=product_id)
    items = [subscription_json(request, s, full=False) for s in subs]
    if status:
        items = [i for i in items if i["status"] == status]
    if cancel_at_next_billing_date is not None:
        items = [i for i in items if i["cancel_at_next_billing_date"] == cancel_at_next_billing_date]
    return {"items": items}


@router.get("/subscriptions/{subscription_id}", summary="Retrieve a subscription", **answers(d.DodoSubscriptionOut))
def get_subscription(request: Request, subscription_id: str = Path(description="A subscription id."),
                     p: Principal = Depends(principal)):
    try:
        sub = billing(request).get_subscription(p.environment, subscription_id)
    except NotFound:
        raise NotFound("Subscription not found", "subscription_id") from None
    return subscription_json(request, sub)
