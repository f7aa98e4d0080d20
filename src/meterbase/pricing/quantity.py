"""From a meter's value to the quantity an invoice line prices: THE BILLABLE QUANTITY RULE.

Metering and pricing accept one value range (``exact``: below 1e30 in magnitude, at most 30 decimal
places), so a meter value is priced as it is, with these rules and no others:

* no value (a ``min``/``max``/``avg``/``last`` meter without events in the window) bills ``0``;
* a value with more than 30 decimal places is rounded half-up to 30 (``exact.round_quantity``). Meters
  already apply it to ``avg`` -- the one aggregation whose result may not terminate (events 1, 1, 2
  average ``1.333…333`` with 30 threes) -- and no other aggregation of in-range values needs it;
* a negative value cannot be priced. Negative events are allowed (on ``sum`` a negative event is a
  refund that reduces the total of its window), but a window whose value is below zero -- refunds
  larger than the usage of the period, or a negative ``min``/``max``/``last``/``avg`` -- raises
  :class:`UnbillableQuantity` instead of silently billing zero or inventing a credit;
* a value at or above 1e30 (a ``sum`` of very many very large events) raises :class:`UnbillableQuantity`.

:class:`UnbillableQuantity` is a per-line error: it names the meter (when the caller knows it), the
value and the reason, so an invoice run can record it against that one subscription and go on.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ValidationError
from ..exact import QUANTITY_INTEGER_DIGITS, plain_text, round_quantity

ZERO = Decimal(0)


class UnbillableQuantity(ValidationError):
    """A meter value that no price can take (negative, or beyond the quantity range).

    ``value`` is the metered value, ``reason`` one of ``"negative"`` / ``"too_large"`` / ``"not_a_number"``,
    ``meter_id`` the meter when known (set by :meth:`for_meter`).
    """

    code = "unbillable_quantity"

    def __init__(self, value: object, reason: str, meter_id: str | None = None):
        self.value, self.reason, self.meter_id = value, reason, meter_id
        text = plain_text(value) if isinstance(value, Decimal) and value.is_finite() else repr(value)
        why = {
            "negative": "is negative (refunds exceed the usage of the period, or the meter measured a "
                        "negative value); negative quantities cannot be priced",
            "too_large": f"is not below 1e{QUANTITY_INTEGER_DIGITS}, the largest quantity a price takes",
            "not_a_number": "is not a finite number",
        }[reason]
        where = f"meter {meter_id}: " if meter_id else ""
        super().__init__(f"{where}usage {text} {why}", "quantity")

    def for_meter(self, meter_id: str) -> "UnbillableQuantity":
        """The same error naming ``meter_id`` (raise it ``from`` this one)."""
        return UnbillableQuantity(self.value, self.reason, meter_id)


def billable_quantity(value: Decimal | None) -> Decimal:
    """The quantity to price for a meter ``value`` (see the module docstring), or :class:`UnbillableQuantity`."""
    if value is None:
        return ZERO
    if not isinstance(value, Decimal) or not value.is_finite():
        raise UnbillableQuantity(value, "not_a_number")
    if value.adjusted() >= QUANTITY_INTEGER_DIGITS:
        raise UnbillableQuantity(value, "negative" if value < 0 else "too_large")
    q = round_quantity(value)
    if q < 0:
        raise UnbillableQuantity(value, "negative")
    if q.adjusted() >= QUANTITY_INTEGER_DIGITS:  # 999…9.9999 (31+ places) rounds up to 1e30
        raise UnbillableQuantity(value, "too_large")
    return q.copy_abs()  # -0 -> 0
