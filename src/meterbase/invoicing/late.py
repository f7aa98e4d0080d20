"""Late usage as people see it: per invoiced period, the usage invoiced vs the usage now.

``period_usage`` prices each invoiced period of a subscription again with its usage now (nothing is
stored) and sets it beside what its invoice and the adjustments recorded since billed, per meter:
what is *pending* is what the next invoice run will record as an adjustment (``billing.adjustments``)
-- or, for a draft, what re-pricing the draft will add. A period no price can take says why instead
of failing the whole answer. Read by ``GET /v1/subscriptions/{id}/periods``, the dashboard and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..billing.adjustments import MeterBill, meter_bills
from ..exact import EXACT, exact_sum
from ..pricing import UnbillableQuantity
from ..pricing.decimals import text
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_repo as repo
from ..storage.billing_invoices import VOID
from ..timeutil import iso_us
from .pricer import Pricer
from .run import period_of

ZERO = Decimal(0)


@dataclass
class MeterUsage:
    meter_id: str
    description: str
    quantity_invoiced: Decimal  # on the period's invoice
    quantity_billed: Decimal  # invoiced, plus the adjustments recorded since
    quantity_now: Decimal
    amount_invoiced: Decimal
    amount_adjusted: Decimal  # the adjustments recorded so far
    amount_now: Decimal  # the period's usage priced now

    @property
    def quantity_pending(self) -> Decimal:
        return EXACT.subtract(self.quantity_now, self.quantity_billed)

    @property
    def amount_pending(self) -> Decimal:
        return EXACT.subtract(self.amount_now, EXACT.add(self.amount_invoiced, self.amount_adjusted))

    def to_dict(self) -> dict:
        return {"meter_id": self.meter_id, "description": self.description,
                "quantity_invoiced": text(self.quantity_invoiced), "quantity_billed": text(self.quantity_billed),
                "quantity_now": text(self.quantity_now), "quantity_pending": text(self.quantity_pending),
                "amount_invoiced": text(self.amount_invoiced), "amount_adjusted": text(self.amount_adjusted),
                "amount_now": text(self.amount_now), "amount_pending": text(self.amount_pending)}


@dataclass
class PeriodUsage:
    invoice_id: str
    status: str
    period_start: int
    period_end: int
    currency: str
    meters: list[MeterUsage] = field(default_factory=list)
    error: str | None = None  # the period cannot be priced now (UnbillableQuantity's message)

    @property
    def amount_pending(self) -> Decimal:
        return exact_sum(m.amount_pending for m in self.meters)

    @property
    def pending(self) -> bool:
        return any(m.quantity_pending or m.amount_pending for m in self.meters)

    def to_dict(self) -> dict:
        return {"invoice_id": self.invoice_id, "status": self.status, "period_start": iso_us(self.period_start),
                "period_end": iso_us(self.period_end), "currency": self.currency, "error": self.error,
                "meters": [m.to_dict() for m in self.meters], "amount_pending": text(self.amount_pending)}


def pending_lines(adjustments, period_start_us: int) -> list:
    """The lines of the adjustments no invoice carries yet that an invoice (or preview) of the period
    starting at ``period_start_us`` will carry: those of earlier periods."""
    return [a.line() for a in adjustments if a.invoice_id is None and a.period_end <= period_start_us]


def _compare(invoiced: dict[str, MeterBill], adjustments: list, now: dict[str, MeterBill]) -> list[MeterUsage]:
    out = []
    for meter_id, cur in now.items():
        billed = invoiced.get(meter_id)
        mine = sorted((a for a in adjustments if a.delta.meter_id == meter_id), key=lambda a: a.delta.version)
        q_inv = billed.quantity if billed else ZERO
        out.append(MeterUsage(
            meter_id, cur.description, q_inv, mine[-1].delta.quantity_after if mine else q_inv, cur.quantity,
            billed.amount if billed else ZERO, exact_sum(a.delta.amount for a in mine), cur.amount))
    return out


def period_usage(store, env: str, subscription_id: str, limit: int = 12) -> tuple[repo.Subscription, list[PeriodUsage]]:
    """The ``limit`` latest invoiced (non-void) periods of a subscription, newest first."""
    with repo.snapshot(store) as conn:
        sub = repo.get_subscription(conn, env, subscription_id)
        invoices = [i for i in inv_repo.list_invoices(conn, env, limit * 2, 0, subscription_id=subscription_id)
                    if i.status != VOID][:limit]
        pricer = Pricer(conn)
        out = []
        for inv in invoices:
            row = PeriodUsage(inv.id, inv.status, inv.period_start, inv.period_end, inv.currency)
            try:
                now = meter_bills(pricer.plan_draft(sub, period_of(sub, inv.period_start)).lines)
            except UnbillableQuantity as exc:
                row.error = exc.message
            else:
                row.meters = _compare(meter_bills(inv.lines), adj_repo.of_period(conn, sub.id, inv.period_start), now)
            out.append(row)
    return sub, out
