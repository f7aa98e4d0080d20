"""Customer wallets: a fiat balance per currency in minor units, native (``/v1``) and Dodo-compatible.

``GET /v1/customers/{id}/wallets`` and ``GET /customers/{id}/wallets`` — the wallets and
``total_balance_usd``; ``POST …/wallets/ledger-entries`` ``{amount, currency, entry_type, idempotency_key?,
reason?}`` — credit or debit (never below zero: ``400 insufficient_wallet_balance``), answers the wallet;
``GET …/wallets/ledger-entries?currency=`` — the entries, newest first (native: ``limit``/``offset``,
``{"data"}``; Dodo: ``page_number``/``page_size``, ``{"items"}``). Reads also accept the customer's portal token
on the native routes.
"""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...credits.wallet_service import WalletService
from ..auth import Principal, customer_reader, own_customer, principal, writer
from ..credits_schemas import data_of, items_of
from ..wallet_schemas import CustomerWalletOut, WalletEntryCreate, WalletListOut, WalletTransactionOut
from ..deps import store
from ..params import Currency, CustomerId, Limit, Offset, PageNumber, PageSize

router = APIRouter(tags=["wallets"])


def _svc(request: Request, p: Principal) -> WalletService:
    return WalletService(store(request), p.environment, request.app.state.settings.business_id)


def _list(request: Request, p: Principal, customer_id: str) -> dict:
    found, usd = _svc(request, p).wallets(customer_id)
    return {"items": [w.to_dict() for w in found], "total_balance_usd": usd}


async def _create(request: Request, p: Principal, customer_id: CustomerId, body: WalletEntryCreate) -> JSONResponse:
    svc = _svc(request, p)
    wallet, _entry, replayed = await run_in_threadpool(lambda: svc.create_entry(
        customer_id, amount=body.amount, currency=body.currency, entry_type=body.entry_type,
        idempotency_key=body.idempotency_key, reason=body.reason))
    return JSONResponse(wallet.to_dict(), status_code=200 if replayed else 201)


@router.get("/v1/customers/{customer_id}/wallets", response_model=WalletListOut, summary="A customer's wallets")
def native_wallets(request: Request, customer_id: CustomerId, p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    return _list(request, p, customer_id)


@router.post("/v1/customers/{customer_id}/wallets/ledger-entries", status_code=201, response_model=CustomerWalletOut,
             summary="Credit or debit a wallet (minor units); answers the wallet")
async def native_create_entry(request: Request, customer_id: CustomerId, body: WalletEntryCreate,
                              p: Principal = Depends(writer)):
    return await _create(request, p, customer_id, body)


@router.get("/v1/customers/{customer_id}/wallets/ledger-entries",
            response_model=data_of(WalletTransactionOut, "WalletTransactionList"), summary="Wallet entries, newest first")
def native_entries(request: Request, customer_id: CustomerId, currency: Currency = None,
                   limit: Limit = 100, offset: Offset = 0,
                   p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    svc = _svc(request, p)
    return {"data": [e.to_dict(svc.business_id) for e in svc.entries(customer_id, currency, limit, offset)]}


@router.get("/customers/{customer_id}/wallets", response_model=WalletListOut, tags=["dodo-compatible"])
def dodo_wallets(request: Request, customer_id: CustomerId, p: Principal = Depends(principal)):
    return _list(request, p, customer_id)


@router.post("/customers/{customer_id}/wallets/ledger-entries", status_code=201, response_model=CustomerWalletOut,
             tags=["dodo-compatible"])
async def dodo_create_entry(request: Request, customer_id: CustomerId, body: WalletEntryCreate, p: Principal = Depends(writer)):
    return await _create(request, p, customer_id, body)


@router.get("/customers/{customer_id}/wallets/ledger-entries",
            response_model=items_of(WalletTransactionOut, "DodoWalletTransactionPage"), tags=["dodo-compatible"])
def dodo_entries(request: Request, customer_id: CustomerId, currency: Currency = None,
                 page_number: PageNumber = 0, page_size: PageSize = 10,
                 p: Principal = Depends(principal)):
    svc = _svc(request, p)
    found = svc.entries(customer_id, currency, page_size, page_number * page_size)
    return {"items": [e.to_dict(svc.business_id) for e in found]}
