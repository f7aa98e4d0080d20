"""``meterbase invoices``: bill every due subscription (idempotent), list, finalize and void invoices."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ..errors import ValidationError
from ..policy.periods import add_months
from ..invoicing import Billing
from ..timeutil import iso_us, parse_instant
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

app = typer.Typer(help="Invoices: generate, list, finalize, void.", no_args_is_help=True)


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
          status: Optional[str] = typer.Option(None, "--status"), db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """List invoices."""
    with friendly_errors():
        found = Billing(get_store(db)).list_invoices(env, 1000, 0, subscription_id=subscription, status=status)
    table = Table("id", "subscription", "customer", "period", "status", "total")
    for i in found:
        table.add_row(i.id, i.subscription_id, i.customer_id, f"{iso_us(i.period_start)} → {iso_us(i.period_end)}",
                      i.status, f"{i.total} {i.currency}")
    console.print(table)


@app.command("finalize")
def finalize_(invoice_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Finalize a draft invoice."""
    with friendly_errors():
        inv = Billing(get_store(db)).finalize(env, invoice_id)
    console.print(f"{inv.id} {inv.status} {inv.total} {inv.currency}")


@app.command("void")
def void(invoice_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Void an invoice."""
    with friendly_errors():
        inv = Billing(get_store(db)).void(env, invoice_id)
    console.print(f"{inv.id} {inv.status}")
