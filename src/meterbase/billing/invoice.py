"""Invoice assembly: plan segments of one billing period plus measured quantities -> priced lines.

A period is covered by one or more *segments* (a plan change mid-period splits it). Per segment:

* **fixed line** -- the plan's fee × quantity for the share of the nominal cycle the segment
  covers. ``fixed_share`` charges ``[a, b)`` as ``P(a) − P(b)`` where ``P(x) = proration(fee, …, x)``
  is the (once-rounded) share of ``[x, nominal_end)``; shares of one fee therefore telescope: an
  unchanged plan over the whole cycle costs exactly the fee, however the period is split.
* **usage lines** -- one per meter of the segment's plan, priced with ``pricing.price_line`` over
  the meter's quantity in the segment window. The free allowance is per period: a meter's free
  threshold in a later segment is reduced by the free units already used earlier in the period.

Nothing here reads a database: quantities come in as a mapping keyed like ``usage_windows``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from ..errors import ValidationError
from ..exact import EXACT, exact_sum
from ..pricing import Flat, Money, UnbillableQuantity, billable_quantity, price_line, proration
from ..pricing.decimals import text
from ..timeutil import iso
from .periods import Period
from .plans import Plan

ZERO = Decimal(0)
Window = tuple[str, datetime, datetime]  # (meter_id, start, end)


@dataclass(frozen=True)
class Segment:
    """``plan`` × ``quantity`` in force over ``[start, end)`` inside one period."""

    plan: Plan
    start: datetime
    end: datetime
    quantity: int = 1


@dataclass(frozen=True)
class InvoiceLine:
    kind: str  # "fixed" | "usage" | another line source's kind (e.g. "adjustment")
    description: str
    product_id: str
    meter_id: str | None
    start: datetime
    end: datetime
    quantity: Decimal
    free_units: Decimal
    billable_units: Decimal
    unit_price: Decimal | None
    amount: Decimal
    detail: dict[str, Any]  # model, tiers / packages breakdown, exact amounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "description": self.description, "product_id": self.product_id,
            "meter_id": self.meter_id, "period_start": iso(self.start), "period_end": iso(self.end),
            "quantity": text(self.quantity), "free_units": text(self.free_units),
            "billable_units": text(self.billable_units),
            "unit_price": None if self.unit_price is None else text(self.unit_price),
            "amount": text(self.amount), **self.detail,
        }


@dataclass(frozen=True)
class InvoiceDraft:
    currency: str
    period: Period
    lines: tuple[InvoiceLine, ...]

    @property
    def subtotal(self) -> Decimal:
        return exact_sum((line.amount for line in self.lines), Money(ZERO, self.currency).amount)

    @property
    def total(self) -> Decimal:
        return self.subtotal

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency, "period_start": iso(self.period.start), "period_end": iso(self.period.end),
            "lines": [ln.to_dict() for ln in self.lines], "subtotal": text(self.subtotal), "total": text(self.total),
        }

    def meter_quantity(self, meter_id: str) -> Decimal:
        """The period's usage of ``meter_id`` (its usage lines; other lines may name a meter too)."""
        return exact_sum(ln.quantity for ln in self.lines if ln.meter_id == meter_id and ln.kind == "usage")

    def with_lines(self, extra: "list[InvoiceLine] | tuple[InvoiceLine, ...]") -> "InvoiceDraft":
        """This draft with ``extra`` lines after its own (same currency)."""
        return InvoiceDraft(self.currency, self.period, self.lines + tuple(extra))


def fixed_share(fee: Money, period: Period, start: datetime, end: datetime) -> Money:
    """The part of ``fee`` (one whole nominal cycle) charged for ``[start, end)``."""
    a = proration(fee, period.nominal_start, period.nominal_end, start).amount
    b = proration(fee, period.nominal_start, period.nominal_end, end).amount
    return Money(a - b, fee.currency)


def _check(period: Period, segments: list[Segment]) -> str:
    if not segments:
        raise ValidationError("an invoice needs at least one plan segment", "segments")
    currency = segments[0].plan.currency
    cursor = period.start
    for s in segments:
        if s.plan.currency != currency:
            raise ValidationError("every plan in a period must share one currency", "currency")
        if s.start != cursor or s.end <= s.start:
            raise ValidationError("segments must tile the period in order", "segments")
        cursor = s.end
    if cursor != period.end:
        raise ValidationError("segments must tile the period in order", "segments")
    return currency


def usage_windows(segments: list[Segment]) -> list[Window]:
    """The ``(meter_id, start, end)`` quantities ``assemble`` needs."""
    return [(u.meter_id, s.start, s.end) for s in segments for u in s.plan.usage]


def assemble(period: Period, segments: list[Segment], quantities: Mapping[Window, Decimal]) -> InvoiceDraft:
    """Price a period. ``quantities`` maps each of ``usage_windows(segments)`` to a meter value."""
    currency = _check(period, segments)
    lines: list[InvoiceLine] = []
    free_used: dict[str, Decimal] = {}
    for seg in segments:
        plan = seg.plan
        if plan.fixed_fee.amount:
            fee = Money(EXACT.multiply(plan.fixed_fee.amount, Decimal(seg.quantity)), currency)
            share = fixed_share(fee, period, seg.start, seg.end)
            whole = (seg.start, seg.end) == (period.nominal_start, period.nominal_end)
            lines.append(InvoiceLine(
                kind="fixed", description=plan.name + ("" if whole else " (prorated)"), product_id=plan.product_id,
                meter_id=None, start=seg.start, end=seg.end, quantity=Decimal(seg.quantity), free_units=ZERO,
                billable_units=Decimal(seg.quantity), unit_price=plan.fixed_fee.amount, amount=share.amount,
                detail={"model": "fixed", "full_amount": text(fee.amount)},
            ))
        for usage in plan.usage:
            try:  # the billable quantity rule (pricing.quantity): rounds nothing an in-range meter holds
                qty = billable_quantity(quantities.get((usage.meter_id, seg.start, seg.end)))
            except UnbillableQuantity as exc:
                raise exc.for_meter(usage.meter_id) from exc
            price = usage.price
            used = free_used.get(usage.meter_id, ZERO)
            if used and not isinstance(price, Flat):
                price = replace(price, free_threshold=max(ZERO, price.free_threshold - used))
            priced = price_line(qty, price, currency)
            free_used[usage.meter_id] = EXACT.add(used, priced.free_units)
            detail = {k: v for k, v in priced.to_dict().items()
                      if k not in ("quantity", "free_units", "billable_units", "unit_price", "amount", "currency")}
            if usage.credits is not None:  # paid with credits as events arrive: no price of its own
                detail = {**detail, "model": "credits", **usage.credits.to_dict()}
            lines.append(InvoiceLine(
                kind="usage", description=usage.description or usage.meter_id, product_id=plan.product_id,
                meter_id=usage.meter_id, start=seg.start, end=seg.end, quantity=priced.quantity,
                free_units=priced.free_units, billable_units=priced.billable_units, unit_price=priced.unit_price,
                amount=priced.amount, detail=detail,
            ))
    return InvoiceDraft(currency=currency, period=period, lines=tuple(lines))


def crossed_thresholds(thresholds: list[dict], draft: InvoiceDraft) -> list[str]:
    """Keys of the usage thresholds ``draft`` has reached: ``{"meter_id", "quantity"}`` or ``{"amount"}``."""
    hits = []
    for t in thresholds:
        if "amount" in t:
            if draft.total >= Decimal(t["amount"]):
                hits.append(threshold_key(t))
        elif draft.meter_quantity(t["meter_id"]) >= Decimal(t["quantity"]):
            hits.append(threshold_key(t))
    return hits


def threshold_key(t: dict) -> str:
    return f"amount:{t['amount']}" if "amount" in t else f"meter:{t['meter_id']}:{t['quantity']}"
