"""Invoicing use cases: the ``Billing`` service, the ``Pricer`` and the invoice run.

This is the layer that turns the pure billing rules (``meterbase.billing``: periods, plans,
invoice assembly; ``meterbase.pricing``: money and price models) into stored invoices. It owns
the transactions; the SQL lives in ``meterbase.storage`` (``billing_repo``, ``billing_invoices``,
``billing_runs``, ``billing_adjustments``) and usage is read through ``storage.usage`` / ``storage.usage_batch``.

* ``service.Billing`` — customers, products, subscriptions, previews, invoices, finalize / void.
* ``pricer.Pricer`` — the one way a subscription's period becomes an ``InvoiceDraft``.
* ``run`` / ``runner`` — what is due, and invoices written in chunks, isolated per period (``Billing.run``).
* ``late`` — late usage: invoiced vs current usage per period, carry-forward adjustments.
* ``line_sources`` and ``lines_policy`` / ``lines_credits`` / ``lines_wallet`` — invoice lines from other
  domains: policy overage, credits, wallet payments.
* ``overview`` and ``dashboard_provider`` — what the web dashboard shows of billing.
"""

from .service import Billing

__all__ = ["Billing"]
