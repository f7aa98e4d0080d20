"""Invoice rows: one per (subscription, period start), with their priced lines frozen as stored.

``insert_invoice`` is idempotent under concurrency: ``INSERT … ON CONFLICT DO NOTHING`` on the
unique ``(subscription_id, period_start)`` means two runs racing on the same period create one
invoice; the loser reads the winner's row.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import select, update

from ..billing.invoice import InvoiceDraft
from ..errors import NotFound
from ..ids import new_id
from ..pricing.decimals import text
from ..timeutil import iso_us, to_us
from . import upsert
from .schema import billing_invoice_lines as tl
from .schema import billing_invoices as ti

DRAFT, FINALIZED, VOID = "draft", "finalized", "void"
STATUSES = (DRAFT, FINALIZED, VOID)


@dataclass
class Invoice:
    id: str
    environment: str
    subscription_id: str
    customer_id: str
    period_start: int
    period_end: int
    status: str
    currency: str
    subtotal: object
    total: object
    created_at: int
    finalized_at: int | None
    voided_at: int | None
    lines: list[dict]

    def to_dict(self) -> dict:
        return {
            "id": self.id, "object": "invoice", "environment": self.environment,
            "subscription_id": self.subscription_id, "customer_id": self.customer_id, "status": self.status,
            "currency": self.currency, "period_start": iso_us(self.period_start), "period_end": iso_us(self.period_end),
            "lines": self.lines, "subtotal": text(self.subtotal), "total": text(self.total),
            "created_at": iso_us(self.created_at),
            "finalized_at": None if self.finalized_at is None else iso_us(self.finalized_at),
            "voided_at": None if self.voided_at is None else iso_us(self.voided_at),
        }


def _line_rows(invoice_id: str, draft: InvoiceDraft) -> list[dict]:
    rows = []
    for pos, ln in enumerate(draft.lines):
        base = ln.to_dict()
        detail = {k: v for k, v in base.items() if k not in (
            "kind", "description", "product_id", "meter_id", "period_start", "period_end", "quantity", "free_units",
            "billable_units", "unit_price", "amount")}
        rows.append(dict(
            invoice_id=invoice_id, position=pos, kind=ln.kind, description=ln.description, product_id=ln.product_id,
            meter_id=ln.meter_id, start_at=to_us(ln.start), end_at=to_us(ln.end), quantity=ln.quantity,
            free_units=ln.free_units, billable_units=ln.billable_units, unit_price=ln.unit_price, amount=ln.amount,
            detail=orjson.dumps(detail).decode(),
        ))
    return rows


def _line_json(r) -> dict:
    return {
        "kind": r.kind, "description": r.description, "product_id": r.product_id, "meter_id": r.meter_id,
        "period_start": iso_us(r.start_at), "period_end": iso_us(r.end_at), "quantity": text(r.quantity),
        "free_units": text(r.free_units), "billable_units": text(r.billable_units),
        "unit_price": None if r.unit_price is None else text(r.unit_price), "amount": text(r.amount),
        **orjson.loads(r.detail),
    }


def insert_invoice(conn, environment: str, subscription_id: str, customer_id: str, draft: InvoiceDraft,
                   now_us: int) -> tuple[str, bool]:
    """Create the draft invoice of ``draft.period``; returns ``(invoice_id, created)``."""
    start = to_us(draft.period.start)
    iid = new_id("inv")
    stmt = upsert.insert(conn, ti).values(
        id=iid, environment=environment, subscription_id=subscription_id, customer_id=customer_id,
        period_start=start, period_end=to_us(draft.period.end), status=DRAFT, currency=draft.currency,
        subtotal=draft.subtotal, total=draft.total, created_at=now_us, updated_at=now_us,
    ).on_conflict_do_nothing(index_elements=["subscription_id", "period_start"])
    if not upsert.inserted(conn, stmt, ti.c.id):
        existing = conn.execute(select(ti.c.id).where(ti.c.subscription_id == subscription_id,
                                                      ti.c.period_start == start)).scalar_one()
        return existing, False
    rows = _line_rows(iid, draft)
    if rows:
        conn.execute(tl.insert(), rows)
    return iid, True


def replace_lines(conn, invoice_id: str, draft: InvoiceDraft, now_us: int) -> None:
    """Re-price a draft (only drafts: callers check the status under the write lock)."""
    conn.execute(tl.delete().where(tl.c.invoice_id == invoice_id))
    rows = _line_rows(invoice_id, draft)
    if rows:
        conn.execute(tl.insert(), rows)
    conn.execute(update(ti).where(ti.c.id == invoice_id).values(subtotal=draft.subtotal, total=draft.total,
                                                                updated_at=now_us))


def set_status(conn, invoice_id: str, status: str, now_us: int) -> None:
    stamp = {FINALIZED: {"finalized_at": now_us}, VOID: {"voided_at": now_us}}.get(status, {})
    conn.execute(update(ti).where(ti.c.id == invoice_id).values(status=status, updated_at=now_us, **stamp))


def _invoice(conn, row) -> Invoice:
    lines = conn.execute(select(tl).where(tl.c.invoice_id == row.id).order_by(tl.c.position)).all()
    return Invoice(row.id, row.environment, row.subscription_id, row.customer_id, row.period_start, row.period_end,
                   row.status, row.currency, row.subtotal, row.total, row.created_at, row.finalized_at,
                   row.voided_at, [_line_json(r) for r in lines])


def get_invoice(conn, environment: str, invoice_id: str) -> Invoice:
    row = conn.execute(select(ti).where(ti.c.environment == environment, ti.c.id == invoice_id)).first()
    if row is None:
        raise NotFound(f"invoice {invoice_id!r} not found", "invoice_id")
    return _invoice(conn, row)


def list_invoices(conn, environment: str, limit: int = 100, offset: int = 0, subscription_id: str | None = None,
                  customer_id: str | None = None, status: str | None = None) -> list[Invoice]:
    q = select(ti).where(ti.c.environment == environment)
    if subscription_id:
        q = q.where(ti.c.subscription_id == subscription_id)
    if customer_id:
        q = q.where(ti.c.customer_id == customer_id)
    if status:
        q = q.where(ti.c.status == status)
    q = q.order_by(ti.c.period_start.desc(), ti.c.id).offset(offset).limit(limit)
    return [_invoice(conn, r) for r in conn.execute(q).all()]
