"""Carry-forward adjustments: late usage of finalized periods and the invoices that carry it.

An adjustment is *pending* while ``invoice_id`` is NULL, *carried* once a draft invoice takes it
(``assign``), and frozen with that invoice when it is finalized. Voiding the carrying invoice hands it
back (``release``). Inserts are ``ON CONFLICT DO NOTHING`` on (subscription, period, meter, version),
so two runs that see the same late usage record it once. The rules are ``billing.adjustments``'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
from sqlalchemy import and_, bindparam, or_, select, update

from ..billing.adjustments import Delta, Prior, adjustment_line
from ..billing.invoice import InvoiceLine
from ..ids import new_id
from ..pricing.decimals import text
from ..timeutil import from_us, iso_us, to_us
from . import upsert
from .schema import billing_invoices as ti
from .schema_invoicing import billing_adjustments as ta

DRAFT, FINALIZED, VOID = "draft", "finalized", "void"
#: The order of adjustment lines on an invoice: oldest period first, then as recorded, in the plan's meter order.
LINE_ORDER = (ta.c.period_start, ta.c.created_at, ta.c.position, ta.c.version, ta.c.id)


@dataclass(frozen=True)
class Adjustment:
    id: str
    environment: str
    subscription_id: str
    customer_id: str
    period_start: int
    period_end: int
    adjusts_invoice_id: str
    currency: str
    delta: Delta
    created_at: int
    invoice_id: str | None  # the invoice that carries it; None: pending
    invoice_status: str | None = None  # that invoice's status (when read with it)

    @property
    def status(self) -> str:
        """``pending`` (on no invoice yet), ``carried`` (on a draft), ``invoiced`` (on a finalized invoice)."""
        if self.invoice_id is None:
            return "pending"
        return "invoiced" if self.invoice_status == FINALIZED else "carried"

    def line(self) -> InvoiceLine:
        return adjustment_line(self.id, self.adjusts_invoice_id, from_us(self.period_start), from_us(self.period_end),
                               self.delta)

    def prior(self) -> Prior:
        d = self.delta
        return Prior(d.meter_id, d.version, d.covers, d.quantity_after, d.free_units, d.billable_units, d.amount)

    def to_dict(self) -> dict:
        d = self.delta
        return {
            "id": self.id, "object": "adjustment", "environment": self.environment,
            "subscription_id": self.subscription_id, "customer_id": self.customer_id,
            "period_start": iso_us(self.period_start), "period_end": iso_us(self.period_end),
            "meter_id": d.meter_id, "description": self.line().description, "version": d.version,
            "adjusts_invoice_id": self.adjusts_invoice_id, "currency": self.currency,
            "quantity_invoiced": text(d.quantity_before), "quantity_now": text(d.quantity_after),
            "quantity": text(d.quantity_after - d.quantity_before), "free_units": text(d.free_units),
            "billable_units": text(d.billable_units), "amount": text(d.amount),
            "status": self.status, "invoice_id": self.invoice_id, "created_at": iso_us(self.created_at),
        }


def _dec(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _adjustment(r, status: str | None = None) -> Adjustment:
    delta = Delta(meter_id=r.meter_id, product_id=r.product_id, description=r.description, version=r.version,
                  covers=tuple(Decimal(c) for c in orjson.loads(r.covers)), quantity_before=_dec(r.quantity_before),
                  quantity_after=_dec(r.quantity_after), free_units=_dec(r.free_units),
                  billable_units=_dec(r.billable_units), amount=_dec(r.amount), position=r.position)
    return Adjustment(r.id, r.environment, r.subscription_id, r.customer_id, r.period_start, r.period_end,
                      r.adjusts_invoice_id, r.currency, delta, r.created_at, r.invoice_id, status)


@dataclass(frozen=True)
class NewAdjustment:
    environment: str
    subscription_id: str
    customer_id: str
    period_start: datetime
    period_end: datetime
    adjusts_invoice_id: str
    currency: str
    delta: Delta


def insert_adjustments(conn, items: list[NewAdjustment], now_us: int) -> list[Adjustment]:
    """Record ``items`` (an adjustment already recorded with the same version is left alone); returns
    the ones recorded by this call. Two statements whatever their number."""
    if not items:
        return []
    rows = []
    for it in items:
        d = it.delta
        rows.append(dict(
            id=new_id("adj"), environment=it.environment, subscription_id=it.subscription_id,
            customer_id=it.customer_id, period_start=to_us(it.period_start), period_end=to_us(it.period_end),
            meter_id=d.meter_id, version=d.version, position=d.position,
            product_id=d.product_id, description=d.description, adjusts_invoice_id=it.adjusts_invoice_id,
            currency=it.currency, covers=orjson.dumps([text(c) for c in d.covers]).decode(),
            quantity_before=d.quantity_before, quantity_after=d.quantity_after,
            free_units=d.free_units, billable_units=d.billable_units, amount=d.amount,
            created_at=now_us, invoice_id=None))
    rows.sort(key=lambda r: (r["subscription_id"], r["period_start"], r["meter_id"], r["version"]))
    conn.execute(upsert.insert(conn, ta).on_conflict_do_nothing(
        index_elements=["subscription_id", "period_start", "meter_id", "version"]), rows)
    ours = conn.execute(select(ta).where(ta.c.id.in_([r["id"] for r in rows]))).all()
    return [_adjustment(r) for r in ours]


def for_periods(conn, environment: str, since_end_us: int) -> dict[tuple[str, int], list[Adjustment]]:
    """``(subscription_id, period_start) -> adjustments`` of the periods ending at or after ``since_end_us``."""
    out: dict[tuple[str, int], list[Adjustment]] = {}
    q = select(ta).where(ta.c.environment == environment, ta.c.period_end >= since_end_us)
    for r in conn.execute(q):
        out.setdefault((r.subscription_id, r.period_start), []).append(_adjustment(r))
    return out


def of_period(conn, subscription_id: str, period_start_us: int) -> list[Adjustment]:
    q = select(ta).where(ta.c.subscription_id == subscription_id, ta.c.period_start == period_start_us)
    return [_adjustment(r) for r in conn.execute(q)]


def _with_status(q):
    return q.add_columns(ti.c.status.label("invoice_status")).outerjoin(ti, ti.c.id == ta.c.invoice_id)


def carryable(conn, subscription_ids) -> dict[str, list[Adjustment]]:
    """``subscription id -> adjustments`` not yet on a finalized invoice (pending, or carried by a
    draft), oldest period first: what the next invoices of these subscriptions bill."""
    ids = sorted(set(subscription_ids))
    if not ids:
        return {}
    q = _with_status(select(ta)).where(ta.c.subscription_id.in_(ids), or_(ta.c.invoice_id.is_(None),
                                                                          ti.c.status == DRAFT))
    out: dict[str, list[Adjustment]] = {}
    for r in conn.execute(q.order_by(*LINE_ORDER)):
        out.setdefault(r.subscription_id, []).append(_adjustment(r, r.invoice_status))
    return out


def assign(conn, carried: dict[str, str]) -> None:
    """``adjustment id -> invoice id``: those invoices carry these adjustments now (one statement)."""
    if carried:
        conn.execute(update(ta).where(ta.c.id == bindparam("aid")).values(invoice_id=bindparam("iid")),
                     [{"aid": a, "iid": i} for a, i in sorted(carried.items())])


def on_invoice(conn, invoice_id: str) -> list[Adjustment]:
    q = select(ta).where(ta.c.invoice_id == invoice_id).order_by(*LINE_ORDER)
    return [_adjustment(r) for r in conn.execute(q)]


def release(conn, invoice_id: str) -> int:
    """A voided invoice no longer carries its adjustments: they are pending again."""
    return conn.execute(update(ta).where(ta.c.invoice_id == invoice_id).values(invoice_id=None)).rowcount


def drop_pending_of(conn, adjusts_invoice_id: str) -> int:
    """Forget the pending adjustments of a period whose invoice is voided (nothing of it is billed now)."""
    return conn.execute(ta.delete().where(ta.c.adjusts_invoice_id == adjusts_invoice_id,
                                          ta.c.invoice_id.is_(None))).rowcount


def list_adjustments(conn, environment: str, limit: int = 100, offset: int = 0, subscription_id: str | None = None,
                     customer_id: str | None = None, status: str | None = None) -> list[Adjustment]:
    """Newest first; ``status``: pending | carried | invoiced."""
    q = _with_status(select(ta)).where(ta.c.environment == environment)
    if subscription_id:
        q = q.where(ta.c.subscription_id == subscription_id)
    if customer_id:
        q = q.where(ta.c.customer_id == customer_id)
    if status == "pending":
        q = q.where(ta.c.invoice_id.is_(None))
    elif status == "carried":
        q = q.where(ta.c.invoice_id.is_not(None), ti.c.status != FINALIZED)
    elif status == "invoiced":
        q = q.where(and_(ta.c.invoice_id.is_not(None), ti.c.status == FINALIZED))
    q = q.order_by(ta.c.created_at.desc(), ta.c.id).offset(offset).limit(limit)
    return [_adjustment(r, r.invoice_status) for r in conn.execute(q)]
