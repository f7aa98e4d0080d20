"""Pydantic models of the customer wallets API (native and Dodo's ``CustomerWallet`` /
``CustomerWalletTransaction`` shapes, amounts in the currency's minor unit) for ``/openapi.json``."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .credits_schemas import _Body, _Out


class WalletEntryCreate(_Body):
    """Dodo's ``LedgerEntryCreateParams`` of a customer wallet."""

    amount: int = Field(gt=0, le=10**15, description="Minor units (cents).")
    currency: str
    entry_type: Literal["credit", "debit"]
    idempotency_key: Optional[str] = Field(None, max_length=255)
    reason: Optional[str] = Field(None, max_length=1000)



class CustomerWalletOut(_Out):
    balance: int = Field(description="Minor units.")
    created_at: str
    currency: str
    customer_id: str
    updated_at: str


class WalletListOut(_Out):
    items: list[CustomerWalletOut]
    total_balance_usd: int = Field(description="The USD wallet's balance in cents (no exchange rates are kept).")


class WalletTransactionOut(_Out):
    id: str
    after_balance: int
    amount: int
    before_balance: int
    business_id: str
    created_at: str
    currency: str
    customer_id: str
    event_type: Literal["payment", "payment_reversal", "refund", "refund_reversal", "dispute", "dispute_reversal",
                        "merchant_adjustment"]
    is_credit: bool
    reason: Optional[str] = None
    reference_object_id: Optional[str] = None
