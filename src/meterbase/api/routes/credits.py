"""Native credits API under ``/v1``: credit entitlements, balances, grants, the ledger and cycles.

* ``POST|GET /v1/credit-entitlements``, ``GET|PATCH|DELETE /v1/credit-entitlements/{id}``,
  ``POST /v1/credit-entitlements/{id}/undelete`` — prices in major units (``"0.01"``).
* ``GET /v1/credit-entitlements/{id}/balances[/{customer_id}]`` — balance and overage, settled as of now.
* ``POST|GET …/balances/{customer_id}/ledger-entries`` — ``entry_type`` credit (a grant) or debit (FIFO, then
  overage; ``400 insufficient_credits`` when refused); ``idempotency_key`` replays return the original entry.
* ``POST|GET …/grants`` (source type, expiry), ``POST …/adjustments`` (``manual_adjustment``),
  ``PUT|DELETE …/cycle`` (the billing cycle: rollover and overage handling at each end, credits per cycle).
* ``GET /v1/customers/{id}/credits`` (every balance of a customer), ``GET /v1/customers/{id}/credits/overage``
  (overage invoiced in a range, priced), ``GET /v1/subscriptions/{id}/credits`` (the credits a subscription's
  product issues or deducts), ``POST /v1/credits/settle`` (the sweep).

Reads of one customer's balances, grants and ledger also accept that customer's portal token.
"""

from __future__ import annotations


from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...errors import ValidationError
from ...credits.service import CreditService
from ...credits.views import Balance, Recorded, entitlement_native
from ...pricing.decimals import text
from ...timeutil import iso_us
from ..auth import Principal, customer_reader, own_customer, principal, writer
from ..credits_schemas import (
    AdjustmentCreate, CreditBalanceOut, CreditEntitlementCreate, CreditEntitlementOut, CreditEntitlementUpdate,
    CustomerCreditOut, CycleSet, GrantCreate, GrantOut, LedgerEntryCreate, LedgerEntryOut, OverageChargeOut,
    SettleOut, SubscriptionCreditItem, data_of,
)
from ..deps import instant_param, store
from ..params import (
    CreditEntitlementId, CustomerFilter, CustomerId, Deleted, EndDate, GrantStatus, Limit, Offset, StartDate,
    SubscriptionId, TransactionType,
)

router = APIRouter(prefix="/v1", tags=["credits"])
ENT = "/credit-entitlements/{entitlement_id}"
BAL = ENT + "/balances/{customer_id}"


def credits(request: Request, p: Principal) -> CreditService:
    return CreditService(store(request), p.environment, request.app.state.settings.business_id)


def _written(rec: Recorded) -> JSONResponse:
    """201 for a new entry, 200 for a replay of an idempotency key (the original entry)."""
    return JSONResponse(LedgerEntryOut.model_validate(rec.to_dict()).model_dump(), status_code=200 if rec.replayed else 201)


def _balance(b: Balance) -> dict:
    return b.to_dict()


# -- entitlements ----------------------------------------------------------------------------------
@router.post("/credit-entitlements", status_code=201, response_model=CreditEntitlementOut,
             summary="Create a credit entitlement")
async def create_entitlement(request: Request, body: CreditEntitlementCreate, p: Principal = Depends(writer)):
    raw = body.model_dump(exclude_unset=True)
    return entitlement_native(await run_in_threadpool(credits(request, p).create_entitlement, raw))


@router.get("/credit-entitlements", response_model=data_of(CreditEntitlementOut, "CreditEntitlementList"),
            summary="List credit entitlements, newest first")
def list_entitlements(request: Request, deleted: Deleted = False, limit: Limit = 100,
                      offset: Offset = 0, p: Principal = Depends(principal)):
    found = credits(request, p).list_entitlements(deleted=deleted, limit=limit, offset=offset)
    return {"data": [entitlement_native(e) for e in found]}


@router.get(ENT, response_model=CreditEntitlementOut, summary="Retrieve a credit entitlement (deleted ones too)")
def get_entitlement(request: Request, entitlement_id: CreditEntitlementId, p: Principal = Depends(principal)):
    return entitlement_native(credits(request, p).get_entitlement(entitlement_id, deleted_ok=True))


@router.patch(ENT, response_model=CreditEntitlementOut, summary="Update a credit entitlement (null clears a field)")
async def update_entitlement(request: Request, entitlement_id: CreditEntitlementId, body: CreditEntitlementUpdate,
                             p: Principal = Depends(writer)):
    raw = body.model_dump(exclude_unset=True)
    return entitlement_native(await run_in_threadpool(credits(request, p).update_entitlement, entitlement_id, raw))


@router.delete(ENT, response_model=CreditEntitlementOut, summary="Soft-delete a credit entitlement")
async def delete_entitlement(request: Request, entitlement_id: CreditEntitlementId, p: Principal = Depends(writer)):
    return entitlement_native(await run_in_threadpool(credits(request, p).set_deleted, entitlement_id, True))


@router.post(ENT + "/undelete", response_model=CreditEntitlementOut, summary="Restore a deleted credit entitlement")
async def undelete_entitlement(request: Request, entitlement_id: CreditEntitlementId, p: Principal = Depends(writer)):
    return entitlement_native(await run_in_threadpool(credits(request, p).set_deleted, entitlement_id, False))


# -- balances --------------------------------------------------------------------------------------
@router.get(ENT + "/balances", response_model=data_of(CreditBalanceOut, "CreditBalanceList"),
            summary="Balances of an entitlement, per customer")
def list_balances(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerFilter = None,
                  limit: Limit = 100, offset: Offset = 0,
                  p: Principal = Depends(principal)):
    found = credits(request, p).balances(entitlement_id, customer_id, limit, offset)
    return {"data": [_balance(b) for b in found]}


@router.get(BAL, response_model=CreditBalanceOut, summary="A customer's balance and overage (as of now)")
def get_balance(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    return _balance(credits(request, p).balance(entitlement_id, customer_id))


@router.post(BAL + "/ledger-entries", status_code=201, response_model=LedgerEntryOut,
             responses={200: {"model": LedgerEntryOut, "description": "A replayed idempotency key: the original entry"}},
             summary="Credit (a new grant) or debit (FIFO, then overage) a balance")
async def create_ledger_entry(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, body: LedgerEntryCreate,
                              p: Principal = Depends(writer)):
    svc = credits(request, p)
    rec = await run_in_threadpool(lambda: svc.create_ledger_entry(
        entitlement_id, customer_id, body.entry_type, body.amount, expires_at=body.expires_at, reason=body.reason,
        metadata=body.metadata, idempotency_key=body.idempotency_key))
    return _written(rec)


@router.get(BAL + "/ledger-entries", response_model=data_of(LedgerEntryOut, "LedgerEntryList"),
            summary="A balance's ledger (newest first unless order=asc)")
@router.get(BAL + "/ledger", response_model=data_of(LedgerEntryOut, "LedgerEntryList"),
            summary="The same list as …/ledger-entries")
def list_ledger(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, transaction_type: TransactionType = None, start_date: StartDate = None,
                end_date: EndDate = None, order: str = Query("desc", pattern="^(asc|desc)$", description="desc: newest first; asc: oldest first."),
                limit: Limit = 100, offset: Offset = 0,
                p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    found = credits(request, p).ledger(
        entitlement_id, customer_id, transaction_type=transaction_type, start=instant_param(start_date, "start_date"),
        end=instant_param(end_date, "end_date"), limit=limit, offset=offset, newest_first=order == "desc")
    return {"data": [r.to_dict() for r in found]}


@router.post(BAL + "/grants", status_code=201, response_model=LedgerEntryOut,
             responses={200: {"model": LedgerEntryOut, "description": "A replayed idempotency key: the original entry"}},
             summary="Grant credits with a source (api, one_time, addon, subscription) and an optional expiry")
async def create_grant(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, body: GrantCreate,
                       p: Principal = Depends(writer)):
    svc = credits(request, p)
    rec = await run_in_threadpool(lambda: svc.grant(
        entitlement_id, customer_id, body.amount, expires_at=body.expires_at, source_type=body.source_type,
        source_id=body.source_id, reason=body.reason, metadata=body.metadata, idempotency_key=body.idempotency_key))
    return _written(rec)


@router.get(BAL + "/grants", response_model=data_of(GrantOut, "GrantList"), summary="A balance's grants, oldest first")
def list_grants(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, status: GrantStatus = None, limit: Limit = 100,
                offset: Offset = 0, p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    return {"data": credits(request, p).grants(entitlement_id, customer_id, status, limit, offset)}


@router.post(BAL + "/adjustments", status_code=201, response_model=LedgerEntryOut,
             responses={200: {"model": LedgerEntryOut, "description": "A replayed idempotency key: the original entry"}},
             summary="A manual adjustment (positive grants, negative deducts without overage)")
async def create_adjustment(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, body: AdjustmentCreate,
                            p: Principal = Depends(writer)):
    svc = credits(request, p)
    rec = await run_in_threadpool(lambda: svc.adjust(entitlement_id, customer_id, body.amount, reason=body.reason,
                                                     metadata=body.metadata, idempotency_key=body.idempotency_key))
    return _written(rec)


@router.put(BAL + "/cycle", response_model=CreditBalanceOut,
            summary="Follow a billing cycle: rollover and overage handling at each end, credits_per_cycle issued")
async def set_cycle(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, body: CycleSet,
                    p: Principal = Depends(writer)):
    raw = body.model_dump(exclude_none=True)
    return _balance(await run_in_threadpool(credits(request, p).set_cycle, entitlement_id, customer_id, raw))


@router.delete(BAL + "/cycle", response_model=CreditBalanceOut, summary="Stop following a cycle")
async def clear_cycle(request: Request, entitlement_id: CreditEntitlementId, customer_id: CustomerId, p: Principal = Depends(writer)):
    return _balance(await run_in_threadpool(credits(request, p).set_cycle, entitlement_id, customer_id, None))


# -- per customer, sweep ---------------------------------------------------------------------------
@router.get("/customers/{customer_id}/credits", response_model=data_of(CustomerCreditOut, "CustomerCreditList"),
            summary="Every credit balance of a customer")
def customer_credits(request: Request, customer_id: CustomerId, p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    found = credits(request, p).customer_balances(customer_id)
    return {"data": [{**_balance(b), "name": e.name, "unit": e.unit, "description": e.description} for e, b in found]}


@router.get("/customers/{customer_id}/credits/overage", response_model=data_of(OverageChargeOut, "OverageChargeList"),
            summary="Overage invoiced at cycle ends in [from, to), priced (invoice_at_billing)")
def customer_overage(request: Request, customer_id: CustomerId, from_: str = Query(alias="from", description="ISO-8601 instant, inclusive."),
                     to: str = Query(description="ISO-8601 instant, exclusive."),
                     p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    start, end = instant_param(from_, "from"), instant_param(to, "to")
    if start is None or end is None:
        raise ValidationError("from and to are required ISO-8601 instants", "from" if start is None else "to")
    out = []
    for c in credits(request, p).overage_lines(customer_id, start, end):
        e = c.entry.entry
        out.append({"credit_entitlement_id": c.entitlement.id, "ledger_entry_id": e.id,
                    "period_start": iso_us(e.period[0]) if e.period else None,
                    "period_end": iso_us(e.period[1]) if e.period else None,
                    "quantity": c.entitlement.amount_text(c.line.quantity), "unit_price": text(e.unit_price),
                    "amount": text(c.line.amount), "currency": c.line.currency})
    return {"data": out}


@router.get("/subscriptions/{subscription_id}/credits", response_model=data_of(SubscriptionCreditItem,
                                                                             "SubscriptionCreditList"),
            summary="The credits a subscription's product issues or deducts, with the customer's balances")
def subscription_credits(request: Request, subscription_id: SubscriptionId, p: Principal = Depends(principal)):
    return {"data": credits(request, p).subscription_credits(subscription_id)}


@router.post("/credits/settle", response_model=SettleOut,
             summary="Deduct metered events' credits and write every expiry and cycle end due by now")
async def settle(request: Request, p: Principal = Depends(writer)):
    settled, events = await run_in_threadpool(credits(request, p).settle_due)
    return {"settled": settled, "deducted_events": events}
