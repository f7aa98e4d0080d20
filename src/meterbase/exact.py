"""Exact decimal arithmetic shared by metering and pricing.

``EXACT`` has 100 significant digits and traps ``Inexact``: an operation that would round raises
instead. Metering bounds every quantity it accepts (see ``events.values.to_decimal``) so sums of
any realistic number of events fit; pricing bounds its inputs likewise. ``WIDE`` is the same
precision without the trap, for the few deliberate roundings (money, averages).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, DivisionByZero, Inexact, InvalidOperation, Overflow

EXACT = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
WIDE = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
