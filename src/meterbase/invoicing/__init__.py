"""Invoicing use cases: the ``Billing`` service, the ``Pricer`` and the invoice run.

This is the layer that turns the pure billing rules (``meterbase.billing``: periods, plans,
invoice assembly; ``meterbase.pricing``: money and price models) into stored invoices. It owns
the transactions; the SQL lives in ``meterbase.storage`` (``billing_repo``, ``billing_invoices``)
and usage is read through ``storage.usage`` / ``storage.usage_batch``.

* ``service.Billing`` — customers, products, subscriptions, previews, invoices, finalize / void.
* ``pricer.Pricer`` — the one way a subscription's period becomes an ``InvoiceDraft``.
* ``run`` — what is due, and invoices written in chunks (``Billing.run``).
* ``dashboard_provider`` — what the web dashboard shows of billing.
"""

from .service import Billing

__all__ = ["Billing"]
