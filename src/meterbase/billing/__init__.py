"""Billing core (pure: no I/O): the rules of billing.

Billing cycles and periods (``periods``, on the shared :mod:`meterbase.periods`), products as plans
(``plans``), validation of customers, subscriptions and thresholds (``subscriptions``), invoice assembly
(``invoice``), grace periods (``grace``), carry-forward adjustments of late usage (``adjustments``), the
credits a product issues and the meters paid with credits (``credit_links``), Dodo's product shapes (``dodo``).

The use cases (``meterbase.invoicing``: ``Billing``, ``Pricer``, the invoice run) measure meters
and persist what this core computes; money comes from ``meterbase.pricing`` (one rounding per
line, there and only there).
"""

from .invoice import InvoiceDraft, InvoiceLine, Segment, assemble, fixed_share, usage_windows
from .periods import Cycle, Period, billing_anchor, parse_cycle, period_at, periods_until
from .plans import MAX_METERS, Plan, UsagePrice, parse_product

__all__ = [
    "MAX_METERS", "Cycle", "InvoiceDraft", "InvoiceLine", "Period", "Plan", "Segment", "UsagePrice", "assemble",
    "billing_anchor", "fixed_share", "parse_cycle", "parse_product", "period_at", "periods_until", "usage_windows",
]
