"""``meterbase invoices runs|skipped|adjustments|periods``: what invoice runs did, the periods that need
attention (a run could not price them), adjustments of late usage, and per period of a subscription
the usage invoiced vs the usage now. Commands of the ``invoices`` group (``cli.invoices``)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Column, Table

from ..formatting import fmt_money, fmt_quantity
from ..invoicing import Billing
from ..timeutil import iso_us
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
    table = Table(Column("adjustment", no_wrap=True), "customer", "period", "line",
                  Column("invoiced → now", justify="right"), Column("amount", justify="right"), "status",
                  Column("on invoice", no_wrap=True))
    for a in found:
        d = a.to_dict()
        table.add_row(a.id, a.customer_id, d["period_start"][:10], d["description"],
                      f"{d['quantity_invoiced']} → {d['quantity_now']}", fmt_money(d["amount"], a.currency), d["status"],
                      a.invoice_id or "–")
    console.print(table)


@app.command("periods")
def periods(subscription_id: str, limit: int = typer.Option(12, "--limit", min=1, max=120), env: str = ENV_OPTION,
            db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Per invoiced period of a subscription: usage invoiced vs usage now, and what is pending adjustment."""
    store = get_store(db)
    _, found = Billing(store).periods(env, subscription_id, limit)
    table = Table("period", "invoice", "meter", Column("invoiced", justify="right"), Column("billed", justify="right"),
                  Column("now", justify="right"), Column("pending", justify="right"),
                  Column("pending amount", justify="right"), title="usage invoiced vs usage now")
    for p in found:
        span = f"{iso_us(p.period_start)[:10]} → {iso_us(p.period_end)[:10]}"
        if p.error:
            table.add_row(span, f"{p.invoice_id} ({p.status})", f"[red]cannot be priced:[/red] {escape(p.error)}",
                          "", "", "", "", "")
        for m in p.meters:
            table.add_row(span, f"{p.invoice_id} ({p.status})", m.description, fmt_quantity(m.quantity_invoiced, ""),
                          fmt_quantity(m.quantity_billed, ""), fmt_quantity(m.quantity_now, ""),
                          fmt_quantity(m.quantity_pending, ""), fmt_money(m.amount_pending, p.currency))
    console.print(table)
