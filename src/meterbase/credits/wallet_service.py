"""Customer wallets use cases: credit/debit entries, balances per currency, and paying invoices from them.

:func:`change_wallet` and :func:`pay` run inside a caller's transaction (``pay`` is the hook an invoice run
will call to apply a wallet to what is due); :class:`WalletService` wraps them for one environment.
Every entry may carry an idempotency key: a replay returns the wallet unchanged, another request under the
same key is a 409.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import Conflict, ValidationError
from ..ids import new_id
from ..storage import wallets_repo as repo
from ..storage.store import Store
from . import wallets
from .operations import check_key, duplicate_key_is_conflict, request_hash
from .service import check_text, require_customer
from .wallets import Wallet, WalletEntry


def change_wallet(conn, environment: str, customer_id: str, currency: str, amount: int, is_credit: bool, now: int,
                  *, event_type: str = "merchant_adjustment", idempotency_key: str | None = None,
                  reason: str | None = None, reference_object_id: str | None = None) -> tuple[Wallet, WalletEntry, bool]:
    """Credit or debit a wallet in the caller's transaction: ``(wallet, entry, replayed)``."""
    fp = request_hash({"customer_id": customer_id, "currency": currency, "amount": amount, "is_credit": is_credit,
                       "event_type": event_type})
    wallet = repo.lock_wallet(conn, environment, customer_id, currency, now)
    if idempotency_key is not None:
        found = repo.entry_by_key(conn, environment, idempotency_key)
        if found is not None:
            if found[1] != fp:
                raise Conflict("idempotency_key was already used for a different wallet entry", "idempotency_key")
            return wallet, found[0], True
    after = wallets.apply(wallet.balance, amount, is_credit)
    entry = WalletEntry(new_id("wtx"), customer_id, currency, event_type, is_credit, amount, wallet.balance, after,
                        now, reason, reference_object_id, idempotency_key)
    return repo.record(conn, environment, entry, fp, now), entry, False


def payment_key(reference_object_id: str, currency: str) -> str:
    """The wallet ledger key of the payment of one invoice (one per invoice and currency)."""
    return f"sys:payment:{reference_object_id}:{currency}"


def pay(conn, environment: str, customer_id: str, currency: str, due: int, reference_object_id: str,
        now: int) -> WalletEntry | None:
    """Apply the wallet to ``due`` minor units (an invoice): debit ``min(balance, due)`` as a ``payment``.

    Idempotent per reference (the invoice id); None when the wallet is empty or nothing is due."""
    if due <= 0:
        return None
    wallet = repo.lock_wallet(conn, environment, customer_id, currency, now)
    key = payment_key(reference_object_id, currency)
    found = repo.entry_by_key(conn, environment, key)
    if found is not None:
        return found[0]
    amount = min(wallet.balance, due)
    if amount <= 0:
        return None
    return change_wallet(conn, environment, customer_id, currency, amount, False, now, event_type="payment",
                         idempotency_key=key, reference_object_id=reference_object_id, reason="applied to invoice")[1]


class WalletService:
    def __init__(self, store: Store, environment: str = "test_mode", business_id: str | None = None):
        self.store = store
        self.environment = environment
        self.business_id = business_id or Settings.from_env().business_id

    def wallets(self, customer_id: str) -> tuple[list[Wallet], int]:
        """The customer's wallets and ``total_balance_usd``: the USD wallet's balance (meterbase keeps no
        exchange rates, so other currencies are listed but not converted)."""
        with self.store.read() as conn:
            found = repo.list_wallets(conn, self.environment, require_customer(customer_id))
        return found, sum(w.balance for w in found if w.currency == "USD")

    def create_entry(self, customer_id: str, *, amount: Any, currency: Any, entry_type: Any,
                     idempotency_key: str | None = None, reason: str | None = None) -> tuple[Wallet, WalletEntry, bool]:
        customer_id, currency = require_customer(customer_id), wallets.parse_currency(currency)
        amount, reason, key = wallets.parse_amount(amount), check_text(reason, "reason"), check_key(idempotency_key)
        if entry_type not in ("credit", "debit"):
            raise ValidationError("entry_type must be credit or debit", "entry_type")
        return duplicate_key_is_conflict(lambda: self.store.batched_write(lambda conn: change_wallet(
            conn, self.environment, customer_id, currency, amount, entry_type == "credit", self.store.now(),
            idempotency_key=key, reason=reason)))

    def entries(self, customer_id: str, currency: Any = None, limit: int = 100, offset: int = 0) -> list[WalletEntry]:
        cur = None if currency is None else wallets.parse_currency(currency)
        with self.store.read() as conn:
            return repo.list_entries(conn, self.environment, require_customer(customer_id), cur, limit, offset)
