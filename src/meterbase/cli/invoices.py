"""``meterbase invoices``: bill every due subscription (idempotent), list, show, finalize and void invoices."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from ..errors import NotFound, ValidationError
from ..formatting import fmt_money, fmt_quantity
from ..invoicing import Billing
from ..periods import add_months
from ..timeutil import iso_us, parse_instant
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

app = typer.Typer(help="Invoices: generate, list, show, finalize, void.", no_args_is_help=True)


def meter_units(store, env: str, lines: list[dict]) -> dict[str, str]:
    units = {}
    for ln in lines:
        mid = ln.get("meter_id")
        if mid and mid not in units:
            try:
                units[mid] = store.get_meter(env, mid).spec.measurement_unit
            except NotFound:
                units[mid] = ""
    return units


def lines_table(lines: list[dict], currency: str, store, env: str, title: str) -> Table:
    """An invoice's lines: quantity, free and billable units in the meter's unit, unit price, amount,
    and the tiers each usage line went through."""
    units = meter_units(store, env, lines)
    table = Table("line", Column("quantity", justify="right"), Column("free", justify="right"),
                  Column("billable", justify="right"), Column("unit price", justify="right"),
                  Column("amount", justify="right"), title=title)
    for ln in lines:
        unit = units.get(ln.get("meter_id") or "", "")
        q = (lambda v: fmt_quantity(v, unit)) if ln["kind"] == "usage" else str
        price = fmt_money(ln["unit_price"], currency, rate=True) if ln.get("unit_price") is not None else ""
        table.add_row(ln["description"], q(ln["quantity"]), q(ln["free_units"]), q(ln["billable_units"]), price,
                      fmt_money(ln["amount"], currency))
        for t in ln.get("tiers") or []:
            span = f"{fmt_quantity(t['from'], unit)} – {fmt_quantity(t['to'], unit) if t['to'] else '∞'}"
            table.add_row(f"  tier {span}", "", "", fmt_quantity(t["units"], unit),
                          fmt_money(t["unit_price"], currency, rate=True), fmt_money(t["amount"], currency, rate=True))
    return table


def period_cutoff(text: str | None, now: datetime) -> datetime:
    """``YYYY-MM`` -> the end of that month; ``YYYY`` -> the end of that year; an ISO instant as is."""
    if not text:
        return now
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return add_months(datetime(int(text[:4]), int(text[5:]), 1, tzinfo=timezone.utc), 1)
    if re.fullmatch(r"\d{4}", text):
        return datetime(int(text) + 1, 1, 1, tzinfo=timezone.utc)
    try:
        return parse_instant(text)
    except ValueError:
        raise ValidationError(f"--period must be YYYY, YYYY-MM or an ISO-8601 instant, got {text!r}", "period") from None


@app.command("run")
def run(
    period: Optional[str] = typer.Option(None, "--period", help="Bill periods ending by the end of YYYY-MM / YYYY / an instant (default now)."),
    finalize: bool = typer.Option(False, "--finalize", help="Finalize the invoices (re-priced, then frozen)."),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="test_mode or live_mode (default both)."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Invoice every subscription period that is due; re-running creates nothing new."""
    with friendly_errors():
        billing = Billing(get_store(db))
        until = period_cutoff(period, datetime.now(timezone.utc))
        with Progress(TextColumn("[bold]invoices"), BarColumn(), MofNCompleteColumn(), console=err_console) as bar:
            task = bar.add_task("invoices", total=None)
            result = billing.run(until, env, finalize, lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"[green]done[/green]: {len(result.created)} created, {len(result.existing)} already existed, "
                  f"{len(result.finalized)} finalized, {result.thresholds} thresholds reached")


@app.command("list")
def list_(env: str = ENV_OPTION, subscription: Optional[str] = typer.Option(None, "--subscription"),
          customer: Optional[str] = typer.Option(None, "--customer", "-c"),
          status: Optional[str] = typer.Option(None, "--status", help="draft | finalized | void"),
          db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """List invoices, newest period first."""
    found = Billing(get_store(db)).list_invoices(env, 1000, 0, subscription_id=subscription, customer_id=customer,
                                                 status=status)
    table = Table(Column("id", no_wrap=True), "customer", "period", Column("status", no_wrap=True),
                  Column("total", justify="right", no_wrap=True))
    for i in found:
        table.add_row(i.id, i.customer_id, f"{iso_us(i.period_start)[:10]} → {iso_us(i.period_end)[:10]}",
                      i.status, fmt_money(i.total, i.currency))
    console.print(table)


@app.command("show")
def show(invoice_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """One invoice with its lines (quantity, free, billable units, tiers, amount) and totals."""
    store = get_store(db)
    inv = Billing(store).get_invoice(env, invoice_id)
    console.print(f"[bold]{inv.id}[/bold]  {inv.status}  customer {inv.customer_id}  subscription {inv.subscription_id}")
    console.print(f"period {iso_us(inv.period_start)} → {iso_us(inv.period_end)}; created {iso_us(inv.created_at)}"
                  + (f"; finalized {iso_us(inv.finalized_at)}" if inv.finalized_at else "")
                  + (f"; voided {iso_us(inv.voided_at)}" if inv.voided_at else ""))
    console.print(lines_table(inv.lines, inv.currency, store, env, "lines"))
    console.print(f"subtotal {fmt_money(inv.subtotal, inv.currency)}   [bold]total {fmt_money(inv.total, inv.currency)}[/bold]")


@app.command("finalize")
def finalize_(invoice_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Finalize a draft invoice (re-priced from current usage, then frozen)."""
    inv = Billing(get_store(db)).finalize(env, invoice_id)
    console.print(f"{inv.id} {inv.status} {fmt_money(inv.total, inv.currency)}")


@app.command("void")
def void(invoice_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Void an invoice."""
    inv = Billing(get_store(db)).void(env, invoice_id)
    console.print(f"{inv.id} {inv.status} {fmt_money(inv.total, inv.currency)}")
