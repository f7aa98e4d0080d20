"""Customer wallets (pure): a fiat balance per (customer, currency) in the currency's minor unit.

Dodo's ``CustomerWallet``: a wallet holds an integer count of minor units (cents) and changes only through
ledger entries (``CustomerWalletTransaction``) that record the balance before and after. A debit never takes
a wallet below zero. ``merchant_adjustment`` is what the API's credit/debit entries are; ``payment`` is a
wallet applied to an invoice (see ``wallet_service.pay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import MeterbaseError, ValidationError
from ..pricing import currency_exponent
from ..timeutil import iso_us

EVENT_TYPES = ("payment", "payment_reversal", "refund", "refund_reversal", "dispute", "dispute_reversal",
               "merchant_adjustment")
MAX_AMOUNT = 10**15  # minor units: far above any real balance, far below 64-bit integers


class InsufficientFunds(MeterbaseError):
    status = 400
    code = "insufficient_wallet_balance"


@dataclass(frozen=True)
class Wallet:
    customer_id: str
    currency: str
    balance: int
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        """Dodo's ``CustomerWallet`` (the native shape adds nothing)."""
        return {"balance": self.balance, "created_at": iso_us(self.created_at), "currency": self.currency,
                "customer_id": self.customer_id, "updated_at": iso_us(self.updated_at)}


@dataclass(frozen=True)
class WalletEntry:
    id: str
    customer_id: str
    currency: str
    event_type: str
    is_credit: bool
    amount: int
    before_balance: int
    after_balance: int
    created_at: int
    reason: str | None = None
    reference_object_id: str | None = None
    idempotency_key: str | None = None

    def to_dict(self, business_id: str) -> dict[str, Any]:
        """Dodo's ``CustomerWalletTransaction``."""
        return {"id": self.id, "after_balance": self.after_balance, "amount": self.amount,
                "before_balance": self.before_balance, "business_id": business_id,
                "created_at": iso_us(self.created_at), "currency": self.currency, "customer_id": self.customer_id,
                "event_type": self.event_type, "is_credit": self.is_credit, "reason": self.reason,
                "reference_object_id": self.reference_object_id}


def parse_currency(value: Any, field: str = "currency") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} is required: an ISO 4217 code such as USD", field)
    currency_exponent(value)
    return value.upper()


def parse_amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise ValidationError(f"amount must be a positive integer of minor units (at most {MAX_AMOUNT})", "amount")
    return value


def apply(balance: int, amount: int, is_credit: bool) -> int:
    """The wallet's balance after the entry; a debit beyond the balance is refused."""
    if is_credit:
        if balance + amount > MAX_AMOUNT:
            raise ValidationError(f"a wallet holds at most {MAX_AMOUNT} minor units", "amount")
        return balance + amount
    if amount > balance:
        raise InsufficientFunds(f"insufficient wallet balance: {balance} available, {amount} requested", "amount")
    return balance - amount
