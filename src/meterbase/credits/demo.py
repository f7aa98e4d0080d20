"""Demo credits (``meterbase demo``): an "API credits" entitlement (created before the products: Enterprise issues
it and pays its images with it), a monthly cycle of 10,000 credits for each demo customer whose subscription does
not already feed one, some usage debited, a USD wallet, and the metered deductions of the events stored so far.
Idempotent: seeding again changes nothing."""

from __future__ import annotations

from ..storage import Store
from .metered import consume
from .service import CreditService
from .wallet_service import WalletService

ENV = "test_mode"
NAME = "API credits"
USAGE = [1500, 4200, 8700, 10400, 12000]  # credits used this cycle, per customer (the last two run into overage)
ENTITLEMENT = {"name": NAME, "unit": "API calls", "precision": 0, "description": "Prepaid API calls (demo)",
               "rollover_enabled": True, "rollover_percentage": 25, "max_rollover_count": 2,
               "overage_enabled": True, "overage_limit": "5000", "overage_behavior": "invoice_at_billing",
               "price_per_unit": "0.01", "currency": "USD", "low_balance_threshold_percent": 20}


def ensure_entitlement(store: Store) -> str:
    """The demo's "API credits" entitlement (created once); returns its id."""
    svc = CreditService(store, ENV)
    found = [e for e in svc.list_entitlements(limit=1000) if e.name == NAME]
    return (found[0] if found else svc.create_entitlement(ENTITLEMENT)).id


def seed_credits(store: Store, customers: list[str]) -> str:
    """Give each customer a cycle (unless a subscription feeds the balance), some debits and a wallet; deduct the
    metered events stored so far; returns the entitlement's id."""
    svc = CreditService(store, ENV)
    ent = svc.get_entitlement(ensure_entitlement(store))
    wallets = WalletService(store, ENV)
    for i, customer in enumerate(customers):
        if svc.balance(ent.id, customer).schedule is None:
            svc.set_cycle(ent.id, customer, {"anchor": "2025-01-01T00:00:00Z", "interval": "month",
                                             "credits_per_cycle": "10000", "source_id": f"sub_demo_{customer}"})
        used = USAGE[i % len(USAGE)]
        for n, amount in enumerate((used // 2, used - used // 2)):
            svc.debit(ent.id, customer, str(amount), reason="demo usage", idempotency_key=f"demo-credits-{customer}-{n}")
        wallets.create_entry(customer, amount=2500 * (i + 1), currency="USD", entry_type="credit",
                             idempotency_key=f"demo-wallet-{customer}", reason="demo top-up")
    consume(store, ENV)  # images of Enterprise subscribers are paid with credits (the server keeps this up)
    return ent.id
