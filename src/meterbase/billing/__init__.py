"""Billing core (pure: no I/O): billing cycles and periods, products as plans, invoice assembly,
grace periods (``grace``) and carry-forward adjustments of late usage (``adjustments``).

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
