"""``meterbase customers``: billing customers — create, list, show (subscriptions, amount due so far, invoices)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Column, Table

from ..formatting import fmt_money
from ..invoicing import Billing
from ..invoicing.overview import BillingViews
from ..storage import billing_invoices as inv_repo
from ..timeutil import iso_us
from .common import DB_HELP, ENV_OPTION, console, get_store, json_option

app = typer.Typer(help="Billing customers: create, list, show.", no_args_is_help=True)


def money_map(amounts: dict) -> str:
    return ", ".join(fmt_money(v, c) for c, v in sorted(amounts.items())) or "–"


@app.command("create")
def create(
    email: str = typer.Option(..., "--email", help="Required: where invoices go."),
    name: str = typer.Option(..., "--name"),
    customer_id: Optional[str] = typer.Option(None, "--id", help="The customer_id its events carry (default: generated)."),
    phone: Optional[str] = typer.Option(None, "--phone"),
    metadata: Optional[str] = typer.Option(None, "--metadata", help='JSON object, e.g. {"plan_source": "sales"}'),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create a customer (audited as customer.created)."""
    raw = {"id": customer_id, "email": email, "name": name, "phone_number": phone,
           "metadata": json_option(metadata, "--metadata")}
    c = Billing(get_store(db)).create_customer(env, {k: v for k, v in raw.items() if v is not None})
    console.print(f"[green]created[/green] {c.id} ({c.name} <{c.email}>)")


@app.command("list")
def list_(
    search: Optional[str] = typer.Option(None, "--search", "-s", help="Part of the id, name or email."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Customers with their product and amount due so far this period."""
    store = get_store(db)
    with store.read() as conn:
        from ..storage import billing_repo

        customers = billing_repo.list_customers(conn, env, limit, 0, search=search)
    table = Table(Column("id", no_wrap=True), "name", "email", "product", "current period", "due so far")
    for acc in BillingViews(store).accounts(env, customers):
        active = [s for s in acc.subscriptions if s.period is not None]
        table.add_row(acc.customer_id, acc.customer.name, acc.customer.email,
                      ", ".join(s.product.plan.name for s in active) or "–",
                      ", ".join(f"{s.period.start:%Y-%m-%d} → {s.period.end:%Y-%m-%d}" for s in active) or "–",
                      money_map(acc.amount_due()))
    console.print(table)


@app.command("show")
def show(customer_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """One customer: details, subscriptions with the amount due so far, invoice history."""
    store = get_store(db)
    acc = BillingViews(store).account(env, customer_id)
    if acc is None:
        from ..errors import NotFound

        raise NotFound(f"customer {customer_id!r} not found (no billing record, no subscription)", "customer_id")
    c = acc.customer
    if c is not None:
        console.print(f"[bold]{c.name}[/bold] <{c.email}>  {c.id}  created {iso_us(c.created_at)}")
    else:
        console.print(f"[bold]{customer_id}[/bold] (no customer record)")
    subs = Table(Column("subscription", no_wrap=True), "product", "status", "current period", "due so far",
                 title="subscriptions")
    for s in acc.subscriptions:
        period = f"{s.period.start:%Y-%m-%d %H:%M} → {s.period.end:%Y-%m-%d %H:%M}" if s.period else "–"
        due = fmt_money(s.upcoming.total, s.upcoming.currency) if s.upcoming else "–"
        if s.problem is not None:
            due = f"[red]cannot be priced[/red] ({s.problem.meter_id} = {s.problem.value}, {s.problem.reason})"
        subs.add_row(s.subscription.id, s.product.plan.name, s.status, period, due)
    console.print(subs)
    console.print(f"amount due so far: [bold]{money_map(acc.amount_due())}[/bold]")
    if acc.attention:
        from .invoices import skipped_table

        console.print(skipped_table(acc.attention, "needs attention: periods invoice runs could not price"))
    for p in acc.late:
        for m in p.meters:
            if m.quantity_pending or m.amount_pending:
                console.print(f"late usage {iso_us(p.period_start)[:10]} ({p.status} {p.invoice_id}): {m.description} "
                              f"{m.quantity_invoiced} invoiced, {m.quantity_now} now, pending "
                              f"{fmt_money(m.amount_pending, p.currency)}", soft_wrap=True)
        if p.error:
            console.print(f"late usage {iso_us(p.period_start)[:10]}: cannot be priced: {p.error}", soft_wrap=True)
    with store.read() as conn:
        invoices = inv_repo.list_invoices(conn, env, 50, 0, customer_id=customer_id, lines=False)
    table = Table(Column("invoice", no_wrap=True), "period", "status", Column("total", justify="right"),
                  title="invoices")
    for i in invoices:
        table.add_row(i.id, f"{iso_us(i.period_start)[:10]} → {iso_us(i.period_end)[:10]}", i.status,
                      fmt_money(i.total, i.currency))
    console.print(table)
