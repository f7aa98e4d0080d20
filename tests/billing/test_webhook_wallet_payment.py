"""``invoice.finalized`` carries the invoice as stored, wallet payment included: an invoice run (and a single
finalization) pays finalized invoices from the customer's wallet in the same transaction, and the webhook
message must show that ``wallet_payment`` line and the reduced total, exactly as ``GET /v1/invoices/{id}``."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from meterbase.storage.schema import webhook_outbox
from meterbase.webhooks import add_endpoint


def finalized_messages(store) -> dict[str, dict]:
    with store.read() as conn:
        rows = conn.execute(select(webhook_outbox.c.payload).where(webhook_outbox.c.event_type == "invoice.finalized"))
        bodies = [orjson.loads(r.payload) for r in rows]
    return {b["data"]["id"]: b["data"] for b in bodies}


def test_the_finalized_webhook_equals_the_stored_invoice_with_its_wallet_payment(api):
    with api.store.write() as conn:
        add_endpoint(conn, "test_mode", "http://127.0.0.1:9/hook", ["invoice.finalized"], 0)
    product = api.product([], fixed_fee="10.00")
    subs = {}
    for cid, wallet in (("cus_run", 400), ("cus_none", 0), ("cus_one", 2500)):
        api.customer(cid)
        if wallet:
            api.ok("POST", f"/v1/customers/{cid}/wallets/ledger-entries", 201,
                   json={"amount": wallet, "currency": "USD", "entry_type": "credit"})
        subs[cid] = api.subscribe(cid, product)

    # a single invoice finalized by hand (Billing.finalize)
    draft = api.invoice(subs["cus_one"], "2025-01-15T00:00:00Z")
    one = api.ok("POST", f"/v1/invoices/{draft['id']}/finalize")
    # the others by an invoice run that finalizes
    run = api.ok("POST", "/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z", "finalize": True})
    assert len(run["finalized"]) == 2

    messages = finalized_messages(api.store)
    assert len(messages) == 3
    stored = {i: api.ok("GET", f"/v1/invoices/{i}") for i in messages}
    for invoice_id, data in messages.items():
        assert data == stored[invoice_id]  # the message is the stored invoice, every line and total
    by_customer = {inv["customer_id"]: inv for inv in stored.values()}

    def paid(inv: dict) -> list[str]:
        return [ln["amount"] for ln in inv["lines"] if ln["kind"] == "wallet_payment"]

    assert (paid(by_customer["cus_run"]), by_customer["cus_run"]["subtotal"], by_customer["cus_run"]["total"]) == \
           (["-4.00"], "10.00", "6.00")  # the run's wallet payment is in the message
    assert (paid(by_customer["cus_one"]), by_customer["cus_one"]["total"]) == (["-10.00"], "0.00")
    assert (paid(by_customer["cus_none"]), by_customer["cus_none"]["total"]) == ([], "10.00")
    assert one == by_customer["cus_one"]
