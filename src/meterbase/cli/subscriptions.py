"""``meterbase subscriptions``: subscribe customers to products — create, list, show (upcoming invoice)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Column, Table

from ..formatting import fmt_money
from ..invoicing import Billing
from ..timeutil import iso_us
from .common import DB_HELP, ENV_OPTION, console, get_store
from .invoices import lines_table

app = typer.Typer(help="Subscriptions: create, list, show.", no_args_is_help=True)


@app.command("create")
def create(
    customer: str = typer.Option(..., "--customer", "-c", help="Customer id (create it with `customers create`)."),
    product: str = typer.Option(..., "--product", "-p", help="Product id."),
    start: Optional[str] = typer.Option(None, "--start", help="ISO-8601 instant (default now)."),
    anchor_day: Optional[int] = typer.Option(None, "--anchor-day", min=1, max=31, help="Monthly plans: bill on this day."),
    quantity: int = typer.Option(1, "--quantity", min=1),
    grace_period_hours: Optional[int] = typer.Option(None, "--grace-period-hours", min=0,
                                                     help="Overrides the product's grace period (hours)."),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Subscribe a customer to a product."""
    raw = {"customer_id": customer, "product_id": product, "start": start, "anchor_day": anchor_day,
           "quantity": quantity, "grace_period_hours": grace_period_hours}
    sub = Billing(get_store(db)).create_subscription(env, {k: v for k, v in raw.items() if v is not None})
    console.print(f"[green]created[/green] {sub.id} ({sub.customer_id} on {sub.product_id}, from {iso_us(sub.start_at)})")


@app.command("list")
def list_(customer: Optional[str] = typer.Option(None, "--customer", "-c"), env: str = ENV_OPTION,
          db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Subscriptions, newest first."""
    store = get_store(db)
    table = Table(Column("id", no_wrap=True), "customer", "product", "status", "start", "cancels at")
    for s in Billing(store).list_subscriptions(env, 1000, 0, customer_id=customer):
        table.add_row(s.id, s.customer_id, s.product_id, s.status(store.now()), iso_us(s.start_at),
                      iso_us(s.ends_at) if s.ends_at else "")
    console.print(table)


@app.command("show")
def show(subscription_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """One subscription and its upcoming invoice (what the customer owes so far this period)."""
    store = get_store(db)
    b = Billing(store)
    sub = b.get_subscription(env, subscription_id)
    product = b.get_product(env, sub.product_id)
    console.print(f"[bold]{sub.id}[/bold]  {sub.customer_id} on {product.plan.name} ({sub.product_id}), "
                  f"{sub.status(store.now())}, since {iso_us(sub.start_at)}")
    if sub.ends is not None and sub.ends_at <= store.now():
        console.print(f"ended {iso_us(sub.ends_at)}: no upcoming invoice")
        return
    _, draft = b.preview(env, subscription_id)
    console.print(f"current period {draft.period.start:%Y-%m-%d %H:%M} → {draft.period.end:%Y-%m-%d %H:%M} UTC; "
                  f"due so far: [bold]{fmt_money(draft.total, draft.currency)}[/bold]")
    console.print(lines_table([ln.to_dict() for ln in draft.lines], draft.currency, store, env, "upcoming invoice"))
