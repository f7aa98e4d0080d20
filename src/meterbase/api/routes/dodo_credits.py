"""Dodo-Payments-compatible credits routes at the root, shaped like the ``dodopayments`` SDK 1.123
(``client.credit_entitlements`` and ``client.credit_entitlements.balances``; ``customers.list_credit_entitlements``):

``POST|GET /credit-entitlements``, ``GET|PATCH|DELETE /credit-entitlements/{id}``,
``POST /credit-entitlements/{id}/undelete``, ``GET /credit-entitlements/{id}/balances[/{customer_id}]``,
``POST …/balances/{customer_id}/ledger-entries``, ``GET …/balances/{customer_id}/ledger`` (also answered at
``GET …/ledger-entries``),
``GET …/balances/{customer_id}/grants``, ``GET /customers/{customer_id}/credit-entitlements``,
``GET /subscriptions/{subscription_id}/credit-usage``.

Prices are minor units of the currency (``price_per_unit: "1"`` = one cent per credit) and ``overage_limit``
an integer, as Dodo has them; the native routes (``/v1``) use major units. Lists take 0-based
``page_number`` and ``page_size`` (≤ 100) and answer ``{"items": [...]}``. A balance the customer does not
have yet is a 404, as on Dodo.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...credits.service import CreditService
from ...credits.views import entitlement_dodo
from ...errors import NotFound
from ...pricing import currency_exponent
from ...pricing.decimals import text, to_decimal
from ..auth import Principal, principal, writer
from ..credits_schemas import (
    DodoCreditEntitlement, DodoCreditEntitlementCreate, DodoCreditEntitlementUpdate, DodoCreditLedgerEntry,
    DodoCustomerCreditBalance, DodoLedgerEntryCreated, CustomerCreditItem, GrantOut, LedgerEntryCreate,
    SubscriptionCreditUsage, items_of,
)
from ..deps import instant_param, store
from ..params import (
    CreditEntitlementId, CustomerFilter, CustomerId, Deleted, EndDate, GrantStatus, Locale, PageNumber, PageSize,
    StartDate, SubscriptionId, TransactionType,
)

router = APIRouter(tags=["dodo-compatible"])
ENT = "/credit-entitlements/{id}"
BAL = "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}"


def _svc(request: Request, p: Principal) -> CreditService:
    return CreditService(store(request), p.environment, request.app.state.settings.business_id)


def _bid(request: Request) -> str:
    return request.app.state.settings.business_id


def _native(raw: dict[str, Any], currency: str | None) -> dict[str, Any]:
    """A Dodo body as native fields: ``price_per_unit`` from minor to major units of ``currency``."""
    price = raw.get("price_per_unit")
    if price is not None and currency is not None:
        raw["price_per_unit"] = text(to_decimal(price, "price_per_unit").scaleb(-currency_exponent(currency)))
    return raw


def _ent(request: Request, ent) -> dict:
    return entitlement_dodo(ent, _bid(request))


@router.post("/credit-entitlements", status_code=201, response_model=DodoCreditEntitlement)
async def create_entitlement(request: Request, body: DodoCreditEntitlementCreate, p: Principal = Depends(writer)):
    raw = _native(body.model_dump(exclude_unset=True), body.currency)
    return _ent(request, await run_in_threadpool(_svc(request, p).create_entitlement, raw))


@router.get("/credit-entitlements", response_model=items_of(DodoCreditEntitlement, "DodoCreditEntitlementPage"))
def list_entitlements(request: Request, deleted: Deleted = False, locale: Locale = None,
                      page_number: PageNumber = 0, page_size: PageSize = 10, p: Principal = Depends(principal)):
    found = _svc(request, p).list_entitlements(deleted=deleted, limit=page_size, offset=page_number * page_size)
    return {"items": [_ent(request, e) for e in found]}


@router.get(ENT, response_model=DodoCreditEntitlement)
def get_entitlement(request: Request, id: CreditEntitlementId, locale: Locale = None, p: Principal = Depends(principal)):
    return _ent(request, _svc(request, p).get_entitlement(id))


@router.patch(ENT, response_model=DodoCreditEntitlement)
async def update_entitlement(request: Request, id: CreditEntitlementId, body: DodoCreditEntitlementUpdate,
                             p: Principal = Depends(writer)):
    svc = _svc(request, p)
    raw = body.model_dump(exclude_unset=True)

    def run():
        currency = raw["currency"] if "currency" in raw else svc.get_entitlement(id).currency
        return svc.update_entitlement(id, _native(raw, currency))

    return _ent(request, await run_in_threadpool(run))


@router.delete(ENT, response_model=DodoCreditEntitlement)
async def delete_entitlement(request: Request, id: CreditEntitlementId, p: Principal = Depends(writer)):
    return _ent(request, await run_in_threadpool(_svc(request, p).set_deleted, id, True))


@router.post(ENT + "/undelete", response_model=DodoCreditEntitlement)
async def undelete_entitlement(request: Request, id: CreditEntitlementId, p: Principal = Depends(writer)):
    return _ent(request, await run_in_threadpool(_svc(request, p).set_deleted, id, False))


@router.get("/credit-entitlements/{credit_entitlement_id}/balances",
            response_model=items_of(DodoCustomerCreditBalance, "DodoCreditBalancePage"))
def list_balances(request: Request, credit_entitlement_id: CreditEntitlementId, customer_id: CustomerFilter = None,
                  page_number: PageNumber = 0, page_size: PageSize = 10, p: Principal = Depends(principal)):
    found = _svc(request, p).balances(credit_entitlement_id, customer_id, page_size, page_number * page_size)
    return {"items": [b.dodo() for b in found]}


@router.get(BAL, response_model=DodoCustomerCreditBalance)
def get_balance(request: Request, credit_entitlement_id: CreditEntitlementId, customer_id: CustomerId, p: Principal = Depends(principal)):
    balance = _svc(request, p).balance(credit_entitlement_id, customer_id)
    if not balance.exists:
        raise NotFound("customer balance not found", "customer_id")
    return balance.dodo()


@router.post(BAL + "/ledger-entries", status_code=201, response_model=DodoLedgerEntryCreated)
async def create_ledger_entry(request: Request, credit_entitlement_id: CreditEntitlementId, customer_id: CustomerId, body: LedgerEntryCreate,
                              p: Principal = Depends(writer)):
    svc = _svc(request, p)
    rec = await run_in_threadpool(lambda: svc.create_ledger_entry(
        credit_entitlement_id, customer_id, body.entry_type, body.amount, expires_at=body.expires_at,
        reason=body.reason, metadata=body.metadata, idempotency_key=body.idempotency_key))
    return JSONResponse(DodoLedgerEntryCreated.model_validate(rec.dodo_created()).model_dump(),
                        status_code=200 if rec.replayed else 201)


@router.get(BAL + "/ledger", response_model=items_of(DodoCreditLedgerEntry, "DodoCreditLedgerPage"))
@router.get(BAL + "/ledger-entries", response_model=items_of(DodoCreditLedgerEntry, "DodoCreditLedgerPage"),
            summary="The same list as …/ledger (the SDK's list_ledger)")
def list_ledger(request: Request, credit_entitlement_id: CreditEntitlementId, customer_id: CustomerId,
                transaction_type: TransactionType = None, start_date: StartDate = None,
                end_date: EndDate = None, page_number: PageNumber = 0, page_size: PageSize = 10,
                p: Principal = Depends(principal)):
    found = _svc(request, p).ledger(
        credit_entitlement_id, customer_id, transaction_type=transaction_type,
        start=instant_param(start_date, "start_date"), end=instant_param(end_date, "end_date"), limit=page_size,
        offset=page_number * page_size)
    return {"items": [r.dodo(_bid(request)) for r in found]}


@router.get(BAL + "/grants", response_model=items_of(GrantOut, "DodoCreditGrantPage"))
def list_grants(request: Request, credit_entitlement_id: CreditEntitlementId, customer_id: CustomerId, status: GrantStatus = None,
                page_number: PageNumber = 0, page_size: PageSize = 10, p: Principal = Depends(principal)):
    found = _svc(request, p).grants(credit_entitlement_id, customer_id, status, page_size, page_number * page_size)
    return {"items": found}


@router.get("/customers/{customer_id}/credit-entitlements",
            response_model=items_of(CustomerCreditItem, "DodoCustomerCreditEntitlements"))
def customer_credit_entitlements(request: Request, customer_id: CustomerId, p: Principal = Depends(principal)):
    found = _svc(request, p).customer_balances(customer_id)
    return {"items": [{"balance": b.dodo()["balance"], "credit_entitlement_id": e.id, "name": e.name,
                       "overage": b.dodo()["overage"], "unit": e.unit, "description": e.description}
                      for e, b in found]}



@router.get("/subscriptions/{subscription_id}/credit-usage", response_model=SubscriptionCreditUsage,
            summary="Credit usage of a subscription (Dodo's subscriptions.retrieve_credit_usage)")
def subscription_credit_usage(request: Request, subscription_id: SubscriptionId, p: Principal = Depends(principal)):
    return {"items": _svc(request, p).subscription_credits(subscription_id), "subscription_id": subscription_id}
