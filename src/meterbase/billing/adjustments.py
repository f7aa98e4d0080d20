"""Carry-forward adjustments (pure): late usage of finalized periods, billed on the next invoice.

Usage that lands in a period whose invoice is already finalized is billed as the difference between
what that period's invoice would be now and what it (plus earlier adjustments) billed, per meter:
tiers, free thresholds and minimums apply to the period's *total*, never to the late events alone,
and each line was rounded once, so the differences add up exactly. ``late_usage`` compares the
invoiced lines with the period priced now and returns one :class:`Delta` per meter whose usage
changed; each records the quantities it covers (``covers``: every usage line's quantity of that
meter), so comparing again with the same usage finds nothing -- an adjustment is never made twice. A
negative difference (a correction) is a credit line. ``adjustment_line`` is the line an adjustment
becomes on the customer's next invoice ("usage for 2025-01 received after invoicing").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable

from ..exact import EXACT, exact_sum
from ..pricing.decimals import text
from .invoice import InvoiceLine

ZERO = Decimal(0)
ADJUSTMENT = "adjustment"  # the kind of an adjustment's invoice line


def period_label(start: datetime, end: datetime) -> str:
    """``2025-01`` for a calendar month (UTC), else ``2025-01-15 – 2025-02-15``."""
    s, e = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    first = s.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                 else first.replace(month=first.month + 1))
    if s == first and e == following:
        return f"{s:%Y-%m}"
    return f"{s:%Y-%m-%d} – {e:%Y-%m-%d}"


@dataclass(frozen=True)
class MeterBill:
    """What a period's usage lines of one meter say: each line's quantity, and their sums."""

    product_id: str
    description: str
    covers: tuple[Decimal, ...]  # the quantity of each usage line of the meter, in line order
    quantity: Decimal
    free_units: Decimal
    billable_units: Decimal
    amount: Decimal


def _dec(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def meter_bills(lines: Iterable[InvoiceLine | dict]) -> dict[str, MeterBill]:
    """Group the *usage* lines of an invoice (``InvoiceLine`` objects, or stored lines as the API shows
    them) by meter."""
    grouped: dict[str, list] = {}
    for ln in lines:
        get = ln.get if isinstance(ln, dict) else (lambda k, _ln=ln: getattr(_ln, k))
        if get("kind") == "usage" and get("meter_id"):
            grouped.setdefault(get("meter_id"), []).append(
                (get("product_id"), get("description"), _dec(get("quantity")), _dec(get("free_units")),
                 _dec(get("billable_units")), _dec(get("amount"))))
    out = {}
    for meter_id, rows in grouped.items():
        out[meter_id] = MeterBill(
            product_id=rows[-1][0], description=rows[-1][1], covers=tuple(r[2] for r in rows),
            quantity=exact_sum(r[2] for r in rows), free_units=exact_sum(r[3] for r in rows),
            billable_units=exact_sum(r[4] for r in rows), amount=exact_sum(r[5] for r in rows))
    return out


@dataclass(frozen=True)
class Prior:
    """An adjustment already recorded for one meter of a finalized period."""

    meter_id: str
    version: int
    covers: tuple[Decimal, ...]
    quantity_after: Decimal
    free_units: Decimal
    billable_units: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Delta:
    """A new adjustment: the difference between a period's usage of one meter now and what was billed."""

    meter_id: str
    product_id: str
    description: str
    version: int  # 1 for the first adjustment of this meter and period, then 2, 3…
    covers: tuple[Decimal, ...]  # the usage lines' quantities it brings the billing up to
    quantity_before: Decimal  # billed so far (invoice + earlier adjustments)
    quantity_after: Decimal  # the period's usage now
    free_units: Decimal  # differences
    billable_units: Decimal
    amount: Decimal  # exact difference of once-rounded line amounts; negative: a credit
    position: int = 0  # the meter's place among the period's usage lines (orders an invoice's adjustment lines)


def billed_covers(invoiced_lines: Iterable[InvoiceLine | dict], prior: Iterable[Prior]) -> dict[str, tuple]:
    """Per meter, the usage-line quantities a finalized period's billing covers so far: its latest
    adjustment's, else its invoice's."""
    out = {m: b.covers for m, b in meter_bills(invoiced_lines).items()}
    latest: dict[str, Prior] = {}
    for p in prior:
        if p.meter_id not in latest or p.version > latest[p.meter_id].version:
            latest[p.meter_id] = p
    out.update({m: p.covers for m, p in latest.items()})
    return out


def usage_covers(quantities: dict[tuple, Decimal]) -> dict[str, tuple]:
    """Per meter, the quantities of a period's usage windows (``(meter_id, start, end) -> value``, in line
    order): what ``billed_covers`` is compared with -- equal means nothing arrived late."""
    out: dict[str, list] = {}
    for (meter_id, _, _), value in quantities.items():
        out.setdefault(meter_id, []).append(value)
    return {m: tuple(v) for m, v in out.items()}


def late_usage(invoiced: dict[str, MeterBill], prior: Iterable[Prior], now: dict[str, MeterBill]) -> list[Delta]:
    """The adjustments a finalized period needs now (see the module docstring), one per changed meter.

    ``invoiced``: the finalized invoice's usage lines by meter; ``prior``: adjustments already
    recorded for the period; ``now``: the period priced with its usage now."""
    earlier: dict[str, list[Prior]] = {}
    for p in prior:
        earlier.setdefault(p.meter_id, []).append(p)
    out = []
    for position, (meter_id, current) in enumerate(now.items()):
        billed = invoiced.get(meter_id)
        history = sorted(earlier.get(meter_id, []), key=lambda p: p.version)
        if history:
            covers, before = history[-1].covers, history[-1].quantity_after
        elif billed is not None:
            covers, before = billed.covers, billed.quantity
        else:
            covers, before = (), ZERO
        if covers == current.covers:  # Decimals compare by value: 5 and 5.0 are the same usage
            continue
        base = [billed] if billed is not None else []

        def total(attr: str) -> Decimal:
            return exact_sum([getattr(b, attr) for b in base] + [getattr(p, attr) for p in history])

        out.append(Delta(
            meter_id=meter_id, product_id=current.product_id, description=current.description,
            version=(history[-1].version if history else 0) + 1, covers=current.covers,
            quantity_before=before, quantity_after=current.quantity,
            free_units=EXACT.subtract(current.free_units, total("free_units")),
            billable_units=EXACT.subtract(current.billable_units, total("billable_units")),
            amount=EXACT.subtract(current.amount, total("amount")), position=position))
    return out


def adjustment_line(adjustment_id: str, invoice_id: str, period_start: datetime, period_end: datetime,
                    delta: Delta) -> InvoiceLine:
    """The line an adjustment of the period ``[period_start, period_end)`` is billed as."""
    label = period_label(period_start, period_end)
    what = (f"usage for {label} received after invoicing" if delta.amount >= 0
            else f"correction of usage for {label} after invoicing (credit)")
    return InvoiceLine(
        kind=ADJUSTMENT, description=f"{delta.description}: {what}", product_id=delta.product_id,
        meter_id=delta.meter_id, start=period_start, end=period_end,
        quantity=EXACT.subtract(delta.quantity_after, delta.quantity_before), free_units=delta.free_units,
        billable_units=delta.billable_units, unit_price=None, amount=delta.amount,
        detail={"adjustment_id": adjustment_id, "adjusts_invoice_id": invoice_id,
                "quantity_invoiced": text(delta.quantity_before), "quantity_now": text(delta.quantity_after)})
