"""A January 2025 of credits and policy overage, made through the HTTP API with a settable clock, for the dashboard
tests (in process and in a browser): cus_ui subscribes to "GPU Pro" ($99.00, 1,000 API credits a cycle, overage
invoiced at $0.01), gets 250 more credits, debits 1,400 (150 past zero), consumes 11 hr of GPU on seed 004's pro
plan ($1.44 of overage) and tops up a $20.00 wallet; on Feb 2 the invoice run finalizes January:
$99.00 + $1.44 + $1.50 = $101.94, of which the wallet pays $20.00."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


def january(api, clock, seed_text: str, *, finalize: bool = True) -> dict:
    """Build the month (``api``: ``billing.conftest.Api`` over a Store with ``clock``); returns the ids."""
    clock.now = datetime(2025, 1, 1, tzinfo=UTC)
    api.ok("PUT", "/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"})
    ent = api.ok("POST", "/v1/credit-entitlements", 201, json={
        "name": "API credits", "unit": "calls", "precision": 0, "overage_enabled": True, "price_per_unit": "0.01",
        "currency": "USD", "overage_behavior": "invoice_at_billing", "expires_after_days": 60})["id"]
    product = api.ok("POST", "/v1/products", 201, json={
        "name": "GPU Pro", "currency": "USD", "fixed_fee": "99.00",
        "credit_entitlements": [{"credit_entitlement_id": ent, "credits_amount": "1000"}]})["id"]
    api.ok("POST", "/v1/customers", 201, json={"id": "cus_ui", "name": "Stark GPU Lab", "email": "ap@stark.example"})
    sub = api.subscribe("cus_ui", product, start="2025-01-01T00:00:00Z")
    api.ok("POST", "/v1/policy/customers", json={"customer_id": "cus_ui", "plan": "pro",
                                                 "anchor": "2025-01-01T00:00:00Z"})
    bal = f"/v1/credit-entitlements/{ent}/balances/cus_ui/ledger-entries"
    clock.now = datetime(2025, 1, 10, tzinfo=UTC)
    api.ok("POST", bal, 201, json={"entry_type": "credit", "amount": "250", "reason": "support gesture"})
    api.ok("POST", bal, 201, json={"entry_type": "debit", "amount": "1400", "reason": "batch job"})
    api.ok("POST", "/v1/policy/allow", json={"customer_id": "cus_ui", "entitlement": "gpu_compute", "amount": "11hr"})
    api.ok("POST", "/v1/customers/cus_ui/wallets/ledger-entries", 201,
           json={"amount": 2000, "currency": "USD", "entry_type": "credit"})
    out = {"entitlement": ent, "subscription": sub, "product": product}
    if finalize:
        clock.now = datetime(2025, 2, 2, tzinfo=UTC)
        api.ok("POST", "/v1/invoices/run", json={"finalize": True})
        [inv] = [i for i in api.ok("GET", "/v1/invoices", params={"customer_id": "cus_ui"})["data"]
                 if i["period_start"] == "2025-01-01T00:00:00Z"]
        out["invoice"] = inv["id"]
    return out
