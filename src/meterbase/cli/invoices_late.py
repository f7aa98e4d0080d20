"""``meterbase invoices runs|skipped|adjustments|periods``: what invoice runs did, the periods that need
attention (a run could not price them), adjustments of late usage, and per period of a subscription
the usage invoiced vs the usage now. Commands of the ``invoices`` group (``cli.invoices``)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Column, Table

from ..billing.adjustments import period_label
from ..formatting import fmt_money, fmt_quantity
from ..invoicing import Billing
from ..timeutil import from_us, iso_us
from .common import DB_HELP, ENV_OPTION, console, get_store
from .invoices import app, skipped_table


@app.command("runs")
def runs(limit: int = typer.Option(20, "--limit", min=1, max=1000), env: str = ENV_OPTION,
         db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Invoice runs, newest first: what each created, finalized, adjusted and skipped."""
    table = Table(Column("run", no_wrap=True), "started", "until", "finalize", Column("created", justify="right"),
                  Column("finalized", justify="right"), Column("adjustments", justify="right"),
                  Column("skipped", justify="right"), "by")
    for r in Billing(get_store(db)).list_runs(env, limit):
        table.add_row(r.id, iso_us(r.started_at)[:19], iso_us(r.until)[:19], r.finalize, str(r.created),
                      str(r.finalized), str(r.adjustments), str(r.skipped), r.actor)
    console.print(table)


@app.command("skipped")
def skipped(customer: Optional[str] = typer.Option(None, "--customer", "-c"),
            fail_if_any: bool = typer.Option(False, "--fail-if-any", help="Exit 1 when a period needs attention."),
            env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Periods that need attention: a run could not price them and none has since."""
    found = Billing(get_store(db)).needs_attention(env, customer, 1000)
    if not found:
        console.print("nothing needs attention: every period was priced")
        return
    console.print(skipped_table(found, f"{len(found)} period(s) need attention"))
    for s in found:
        console.print(f"  {s.subscription_id}: {s.message}", soft_wrap=True)
    if fail_if_any:
        raise typer.Exit(1)


@app.command("adjustments")
def adjustments(customer: Optional[str] = typer.Option(None, "--customer", "-c"),
                subscription: Optional[str] = typer.Option(None, "--subscription"),
                status: Optional[str] = typer.Option(None, "--status", help="pending | carried | invoiced"),
                env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Adjustments of late usage: usage of a finalized period billed on a later invoice."""
    found = Billing(get_store(db)).list_adjustments(env, 1000, 0, customer_id=customer, subscription_id=subscription,
                                                    status=status)
    table = Table(Column("adjustment / customer", no_wrap=True), Column("line", overflow="fold"),
                  Column("amount", justify="right", no_wrap=True), Column("status", no_wrap=True))
    for a in found:
        d = a.to_dict()
        where = f"on {a.invoice_id}" if a.invoice_id else "next invoice"
        table.add_row(f"{a.id}\n{a.customer_id}", f"{d['description']} ({d['quantity_invoiced']} invoiced → "
                      f"{d['quantity_now']} now)", fmt_money(d["amount"], a.currency), f"{d['status']}\n{where}")
    console.print(table)


@app.command("periods")
def periods(subscription_id: str, limit: int = typer.Option(12, "--limit", min=1, max=120), env: str = ENV_OPTION,
            db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Per invoiced period of a subscription: usage invoiced, billed (with adjustments), now, and pending."""
    store = get_store(db)
    _, found = Billing(store).periods(env, subscription_id, limit)
    if not found:
        console.print("no invoiced period yet")
    for p in found:
        title = (f"{period_label(from_us(p.period_start), from_us(p.period_end))} · {p.invoice_id} ({p.status}) · "
                 f"pending {fmt_money(p.amount_pending, p.currency)}")
        if p.error:
            console.print(f"{title}: [red]cannot be priced now[/red]: {escape(p.error)}", soft_wrap=True)
            continue
        num = {"justify": "right", "overflow": "fold"}
        table = Table(Column("meter", overflow="fold"), Column("invoiced", **num), Column("billed", **num),
                      Column("now", **num), Column("pending", **num), Column("amount", **num), title=title)
        for m in p.meters:
            table.add_row(m.description, fmt_quantity(m.quantity_invoiced, ""), fmt_quantity(m.quantity_billed, ""),
                          fmt_quantity(m.quantity_now, ""), fmt_quantity(m.quantity_pending, ""),
                          fmt_money(m.amount_pending, p.currency))
        console.print(table)
