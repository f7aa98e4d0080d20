"""Wallet payments on invoices: when an invoice is finalized, the customer's wallet pays what it can of it.

In the transaction that finalizes invoices (``Billing.finalize``, an invoice run with ``finalize``), :func:`pay`
applies each invoice's customer wallet in the invoice's currency to its amount due
(``credits.wallet_service.pay``: a ``payment`` entry in the wallet ledger, referencing the invoice, idempotent per
invoice) and records it on the invoice as a ``wallet_payment`` line of a negative amount: the invoice's
``subtotal`` stays what was charged, its ``total`` becomes what is left to pay. Finalizing again (or a retried
run) pays nothing more. Drafts and upcoming invoices show no payment: the wallet pays at finalization.
"""

from __future__ import annotations

from decimal import Decimal

from ..billing.invoice import InvoiceLine
from ..credits.wallet_service import pay as wallet_pay, payment_key
from ..pricing import Money, from_minor
from ..storage import billing_invoices as inv_repo, wallets_repo
from ..timeutil import from_us

KIND = "wallet_payment"


def pay(conn, invoice_ids: list[str], now: int) -> set[str]:
    """Let each finalized invoice's customer wallet pay its amount due (call right after finalizing them).
    Returns the ids of the invoices a wallet paid now (they got a payment line).

    Two queries whatever the number of invoices when no customer of theirs has money in a wallet (an invoice
    run finalizing thousands of invoices creates no wallet rows)."""
    paid_now: set[str] = set()
    rows = inv_repo.invoice_rows(conn, invoice_ids)
    funded: set[tuple[str, str, str]] = set()
    for env in {r.environment for r in rows}:
        ids = [r.customer_id for r in rows if r.environment == env]
        funded |= {(env, c, cur) for c, cur in wallets_repo.funded(conn, env, ids)}
    for inv in sorted(rows, key=lambda r: (r.period_start, r.id)):  # the oldest invoice is paid first
        if inv.status != inv_repo.FINALIZED or inv.total <= 0 or (inv.environment, inv.customer_id,
                                                                  inv.currency) not in funded:
            continue
        if wallets_repo.entry_by_key(conn, inv.environment, payment_key(inv.id, inv.currency)) is not None:
            continue  # paid when it was finalized
        due = Money(inv.total, inv.currency).minor
        entry = wallet_pay(conn, inv.environment, inv.customer_id, inv.currency, due, inv.id, now)
        if entry is None or entry.amount <= 0:
            continue
        paid_now.add(inv.id)
        paid = from_minor(entry.amount, inv.currency)
        inv_repo.add_payment_line(conn, inv.id, InvoiceLine(
            kind=KIND, description="Paid from the customer's wallet", product_id="", meter_id=None,
            start=from_us(inv.period_start), end=from_us(inv.period_end), quantity=Decimal(1), free_units=Decimal(0),
            billable_units=Decimal(1), unit_price=None, amount=-paid,
            detail={"model": KIND, "wallet_entry_id": entry.id, "wallet_balance_after": entry.after_balance},
        ), now)
    return paid_now
