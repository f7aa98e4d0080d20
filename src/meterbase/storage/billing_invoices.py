"""Invoice rows: one per (subscription, period start), with their priced lines frozen as stored.

``insert_invoices`` is idempotent under concurrency: ``INSERT … ON CONFLICT DO NOTHING`` on the
unique ``(subscription_id, period_start)`` means two runs racing on the same period create one
invoice; the loser reads the winner's row. Every write here takes a list and costs a fixed number
of statements however long it is, so an invoice run writes a chunk of invoices at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, func, select, update

from ..billing.invoice import InvoiceDraft, InvoiceLine
from ..errors import NotFound
from ..ids import new_id
from ..pricing.decimals import text
from ..timeutil import iso_us, to_us
from . import upsert
from .schema import billing_invoice_lines as tl
from .schema import billing_invoices as ti
from .types import decimal_param

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


_DECIMAL_COLUMNS = ("quantity", "free_units", "billable_units", "unit_price", "amount")
_COLUMN_KEYS = frozenset(("kind", "description", "product_id", "meter_id", "period_start", "period_end", *_DECIMAL_COLUMNS))


def _line_rows(invoice_id: str, draft: InvoiceDraft) -> list[dict]:
    return [_line_row(invoice_id, pos, ln) for pos, ln in enumerate(draft.lines)]


def _line_row(invoice_id: str, pos: int, ln: InvoiceLine) -> dict:
    detail = {k: v for k, v in ln.detail.items() if k not in _COLUMN_KEYS}  # what to_dict() adds to the columns
    return dict(
        invoice_id=invoice_id, position=pos, kind=ln.kind, description=ln.description, product_id=ln.product_id,
        meter_id=ln.meter_id, start_at=to_us(ln.start), end_at=to_us(ln.end), quantity=ln.quantity,
        free_units=ln.free_units, billable_units=ln.billable_units, unit_price=ln.unit_price, amount=ln.amount,
        detail=orjson.dumps(detail).decode(),
    )


def _insert_lines(conn, drafts: list[tuple[str, InvoiceDraft]]) -> None:
    """Insert the lines of ``(invoice_id, draft)`` pairs with one driver ``executemany``. Many invoices
    of a run share one draft object (same plan, period and quantities): its rows are built once."""
    dec = decimal_param(conn.dialect.name)
    templates: dict[int, list[dict]] = {}
    rows = []
    for iid, draft in drafts:
        lines = templates.get(id(draft))
        if lines is None:
            lines = templates[id(draft)] = [{**r, **{k: dec(r[k]) for k in _DECIMAL_COLUMNS}}
                                            for r in _line_rows("", draft)]
        rows.extend({**r, "invoice_id": iid} for r in lines)
    if rows:
        upsert.execute_many(conn, "invoice_lines_insert", lambda: tl.insert(), rows)


def _line_json(r) -> dict:
    """A stored line (a row mapping, or the dict ``_line_rows`` wrote) as the API shows it."""
    return {
        "kind": r["kind"], "description": r["description"], "product_id": r["product_id"], "meter_id": r["meter_id"],
        "period_start": iso_us(r["start_at"]), "period_end": iso_us(r["end_at"]), "quantity": text(r["quantity"]),
        "free_units": text(r["free_units"]), "billable_units": text(r["billable_units"]),
        "unit_price": None if r["unit_price"] is None else text(r["unit_price"]), "amount": text(r["amount"]),
        **orjson.loads(r["detail"]),
    }


@dataclass(frozen=True)
class NewInvoice:
    """What creating one period's draft invoice needs."""

    environment: str
    subscription_id: str
    customer_id: str
    draft: InvoiceDraft


@dataclass(frozen=True)
class Stored:
    """The invoice row of a ``NewInvoice`` after ``insert_invoices``: made now, or found."""

    id: str
    created: bool
    status: str
    created_at: int


def insert_invoices(conn, items: list[NewInvoice], now_us: int) -> list[Stored]:
    """Create the draft invoices of ``items`` (at most one per subscription and period start) in
    three statements whatever their number: one ``INSERT … ON CONFLICT DO NOTHING`` executemany, a
    ``SELECT`` of the rows now stored for those periods (ours carry the ids we generated; psycopg
    reports no rowcount for ``ON CONFLICT``, so it is read back rather than counted), and the lines
    of the new ones. Returns one ``Stored`` per item, in order."""
    if not items:
        return []
    dec = decimal_param(conn.dialect.name)
    sums: dict[int, tuple] = {}  # per draft object: its bounds and totals
    rows = []
    for it in items:
        d = it.draft
        s = sums.get(id(d))
        if s is None:
            s = sums[id(d)] = (to_us(d.period.start), to_us(d.period.end), dec(d.subtotal), dec(d.total))
        rows.append(dict(id=new_id("inv"), environment=it.environment, subscription_id=it.subscription_id,
                         customer_id=it.customer_id, period_start=s[0], period_end=s[1], status=DRAFT,
                         currency=d.currency, subtotal=s[2], total=s[3], created_at=now_us, updated_at=now_us,
                         finalized_at=None, voided_at=None))
    upsert.execute_many(conn, "invoice_insert", lambda: upsert.insert(conn, ti).on_conflict_do_nothing(
        index_elements=["subscription_id", "period_start"]),
        sorted(rows, key=lambda r: (r["subscription_id"], r["period_start"])))  # one lock order: no deadlocks
    q = select(ti.c.id, ti.c.subscription_id, ti.c.period_start, ti.c.status, ti.c.created_at).where(
        ti.c.subscription_id.in_(sorted({r["subscription_id"] for r in rows})),
        ti.c.period_start.between(min(r["period_start"] for r in rows), max(r["period_start"] for r in rows)))
    found = {(r.subscription_id, r.period_start): r for r in conn.execute(q)}
    out = []
    for row in rows:
        r = found[(row["subscription_id"], row["period_start"])]
        out.append(Stored(r.id, r.id == row["id"], r.status, r.created_at))
    _insert_lines(conn, [(s.id, it.draft) for s, it in zip(out, items) if s.created])
    return out


def drafted(item: NewInvoice, stored: Stored, status: str, finalized_at: int | None = None) -> Invoice:
    """The ``Invoice`` of ``item`` as stored with its draft's lines (what ``get_invoice`` would read back)."""
    d = item.draft
    return Invoice(stored.id, item.environment, item.subscription_id, item.customer_id, to_us(d.period.start),
                   to_us(d.period.end), status, d.currency, d.subtotal, d.total, stored.created_at, finalized_at, None,
                   [_line_json(r) for r in _line_rows(stored.id, d)])


def reprice_drafts(conn, drafts: dict[str, InvoiceDraft], now_us: int) -> list[str]:
    """Re-price those of ``drafts``' invoices that are still drafts (the status is checked by the
    ``UPDATE`` itself); returns their ids. Four statements however many."""
    if not drafts:
        return []
    ids = list(conn.execute(update(ti).where(ti.c.id.in_(list(drafts)), ti.c.status == DRAFT)
                            .values(updated_at=now_us).returning(ti.c.id)).scalars())
    replace_lines_many(conn, {iid: drafts[iid] for iid in ids}, now_us)
    return ids


def replace_lines_many(conn, drafts: dict[str, InvoiceDraft], now_us: int) -> None:
    """Re-price drafts (only drafts: ``finalize_drafts`` checks the status under the write lock), in
    three statements however many."""
    if not drafts:
        return
    conn.execute(tl.delete().where(tl.c.invoice_id.in_(list(drafts))))
    _insert_lines(conn, list(drafts.items()))
    conn.execute(update(ti).where(ti.c.id == bindparam("iid")).values(
        subtotal=bindparam("subtotal"), total=bindparam("total"), updated_at=now_us),
        [{"iid": iid, "subtotal": d.subtotal, "total": d.total} for iid, d in drafts.items()])


def finalize_drafts(conn, drafts: dict[str, InvoiceDraft | None], now_us: int) -> list[str]:
    """Freeze those of ``drafts``' invoices that are still drafts, re-priced with the draft given
    (``None``: keep the stored lines). Returns the ids finalized here: the status is checked by the
    ``UPDATE`` itself, so two concurrent finalizations of one invoice finalize it once."""
    if not drafts:
        return []
    done = list(conn.execute(update(ti).where(ti.c.id.in_(list(drafts)), ti.c.status == DRAFT).values(
        status=FINALIZED, finalized_at=now_us, updated_at=now_us).returning(ti.c.id)).scalars())
    replace_lines_many(conn, {iid: drafts[iid] for iid in done if drafts[iid] is not None}, now_us)
    return done


def invoice_rows(conn, invoice_ids: list[str]) -> list:
    """The rows of these invoices, without their lines (one query)."""
    return list(conn.execute(select(ti).where(ti.c.id.in_(sorted(set(invoice_ids)))))) if invoice_ids else []


def add_payment_line(conn, invoice_id: str, line: InvoiceLine, now_us: int) -> None:
    """Append a payment (a negative ``amount``) to a finalized invoice: ``total`` falls by it, ``subtotal`` stays."""
    position = conn.execute(select(func.coalesce(func.max(tl.c.position), -1)).where(
        tl.c.invoice_id == invoice_id)).scalar_one() + 1
    conn.execute(tl.insert().values(**_line_row(invoice_id, position, line)))
    total = conn.execute(select(ti.c.total).where(ti.c.id == invoice_id)).scalar_one()
    conn.execute(update(ti).where(ti.c.id == invoice_id).values(total=total + line.amount, updated_at=now_us))


def period_statuses(conn, environment: str | None) -> dict[tuple[str, int], str]:
    """``(subscription_id, period_start) -> status`` of every invoice of ``environment`` (None: all)."""
    q = select(ti.c.subscription_id, ti.c.period_start, ti.c.status)
    if environment is not None:
        q = q.where(ti.c.environment == environment)
    return {(sid, start): status for sid, start, status in conn.execute(q)}


def period_invoices(conn, subscription_ids) -> dict[tuple[str, int], tuple[str, str]]:
    """``(subscription_id, period_start) -> (invoice id, status)`` of every invoice of these subscriptions."""
    ids = sorted(set(subscription_ids))
    if not ids:
        return {}
    q = select(ti.c.subscription_id, ti.c.period_start, ti.c.id, ti.c.status).where(ti.c.subscription_id.in_(ids))
    return {(sid, start): (iid, status) for sid, start, iid, status in conn.execute(q)}


_BILLED_KEYS = ("kind", "meter_id", "product_id", "description", "quantity", "free_units", "billable_units", "amount")


@dataclass(frozen=True)
class Billed:
    """A finalized invoice's period and its usage lines (``_BILLED_KEYS``, decimals as ``Decimal``): what
    late usage is compared with."""

    invoice_id: str
    subscription_id: str
    period_start: int
    period_end: int
    currency: str
    lines: list[dict]


def finalized_usage(conn, environment: str, since_end_us: int, until_us: int,
                    subscription_ids: list[str] | None = None) -> list[Billed]:
    """Every finalized invoice of ``environment`` whose period ended in ``[since_end_us, until_us]``,
    with its usage lines, in one query (an order by the lines' position, so their order is the invoice's)."""
    q = (select(ti.c.id.label("iid"), ti.c.subscription_id, ti.c.period_start.label("p_start"),
                ti.c.period_end.label("p_end"), ti.c.currency, tl.c.kind, tl.c.meter_id, tl.c.product_id,
                tl.c.description, tl.c.quantity, tl.c.free_units, tl.c.billable_units, tl.c.amount)
         .join(tl, tl.c.invoice_id == ti.c.id)
         .where(ti.c.environment == environment, ti.c.status == FINALIZED, ti.c.period_end >= since_end_us,
                ti.c.period_end <= until_us, tl.c.kind == "usage"))
    if subscription_ids is not None:
        q = q.where(ti.c.subscription_id.in_(sorted(set(subscription_ids))))
    out: dict[str, Billed] = {}
    for r in conn.execute(q.order_by(ti.c.id, tl.c.position)):
        b = out.get(r.iid)
        if b is None:
            b = out[r.iid] = Billed(r.iid, r.subscription_id, r.p_start, r.p_end, r.currency, [])
        b.lines.append({k: getattr(r, k) for k in _BILLED_KEYS})
    return list(out.values())


def invoiced_after(conn, subscription_id: str, at_us: int) -> str | None:
    """The id of a non-void invoice of the subscription whose period ends after ``at_us``, if any."""
    return conn.execute(select(ti.c.id).where(ti.c.subscription_id == subscription_id, ti.c.period_end > at_us,
                                              ti.c.status != VOID)).scalar()


def set_status(conn, invoice_id: str, status: str, now_us: int) -> None:
    stamp = {FINALIZED: {"finalized_at": now_us}, VOID: {"voided_at": now_us}}.get(status, {})
    conn.execute(update(ti).where(ti.c.id == invoice_id).values(status=status, updated_at=now_us, **stamp))


def _invoice(conn, row) -> Invoice:
    lines = conn.execute(select(tl).where(tl.c.invoice_id == row.id).order_by(tl.c.position)).all()
    return Invoice(row.id, row.environment, row.subscription_id, row.customer_id, row.period_start, row.period_end,
                   row.status, row.currency, row.subtotal, row.total, row.created_at, row.finalized_at,
                   row.voided_at, [_line_json(r._mapping) for r in lines])


def get_invoice(conn, environment: str, invoice_id: str) -> Invoice:
    row = conn.execute(select(ti).where(ti.c.environment == environment, ti.c.id == invoice_id)).first()
    if row is None:
        raise NotFound(f"invoice {invoice_id!r} not found", "invoice_id")
    return _invoice(conn, row)


def _filtered(q, environment: str, subscription_id: str | None = None, customer_id: str | None = None,
              status: str | None = None, period_from: int | None = None, period_to: int | None = None):
    q = q.where(ti.c.environment == environment)
    if subscription_id:
        q = q.where(ti.c.subscription_id == subscription_id)
    if customer_id:
        q = q.where(ti.c.customer_id == customer_id)
    if status:
        q = q.where(ti.c.status == status)
    if period_from is not None:
        q = q.where(ti.c.period_start >= period_from)
    if period_to is not None:
        q = q.where(ti.c.period_start < period_to)
    return q


def list_invoices(conn, environment: str, limit: int = 100, offset: int = 0, subscription_id: str | None = None,
                  customer_id: str | None = None, status: str | None = None, period_from: int | None = None,
                  period_to: int | None = None, lines: bool = True) -> list[Invoice]:
    """Newest period first; ``period_from``/``period_to`` bound the period start; ``lines=False``
    leaves each invoice's ``lines`` empty (one query for a whole page)."""
    q = _filtered(select(ti), environment, subscription_id, customer_id, status, period_from, period_to)
    q = q.order_by(ti.c.period_start.desc(), ti.c.id).offset(offset).limit(limit)
    rows = conn.execute(q).all()
    if lines:
        return [_invoice(conn, r) for r in rows]
    return [Invoice(r.id, r.environment, r.subscription_id, r.customer_id, r.period_start, r.period_end, r.status,
                    r.currency, r.subtotal, r.total, r.created_at, r.finalized_at, r.voided_at, []) for r in rows]


def count_invoices(conn, environment: str, **filters) -> int:
    return conn.execute(_filtered(select(func.count()).select_from(ti), environment, **filters)).scalar_one()


def totals_by_period(conn, environment: str, since_us: int) -> list[tuple[int, str, str, object, int]]:
    """``(period_start, currency, status, sum of totals, invoices)`` of invoices whose period starts at or
    after ``since_us``, grouped in the database (one row per distinct period start, not per invoice)."""
    q = (select(ti.c.period_start, ti.c.currency, ti.c.status, func.sum(ti.c.total), func.count())
         .where(ti.c.environment == environment, ti.c.period_start >= since_us)
         .group_by(ti.c.period_start, ti.c.currency, ti.c.status))
    return [tuple(r) for r in conn.execute(q)]
