"""``meterbase invoices``: bill every due subscription (idempotent, each mode its own run), list, show,
finalize and void invoices; the runs, skipped periods and late-usage commands are ``invoices_late``'s."""

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
from ..invoicing.run import RunResult
from ..invoicing.runner import DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS
from ..periods import add_months
from ..storage.keys_repo import ENVIRONMENTS
from ..timeutil import iso_us, parse_instant
from .common import DB_HELP, ENV_OPTION, console, err_console, expected_error, get_store

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
        q = (lambda v: fmt_quantity(v, unit)) if ln["kind"] in ("usage", "adjustment") else str
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
    finalize: bool = typer.Option(False, "--finalize", help="Finalize the invoices whose grace period has passed (re-priced, then frozen)."),
    finalize_now: bool = typer.Option(False, "--finalize-now", help="Finalize every ended period now, grace period or not."),
    lookback_days: int = typer.Option(DEFAULT_LOOKBACK_DAYS, "--lookback-days", min=0, max=MAX_LOOKBACK_DAYS,
                                      help="Check periods finalized within this many days for late usage."),
    fail_on_skipped: bool = typer.Option(False, "--fail-on-skipped", help="Exit 1 when a period could not be priced."),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="test_mode or live_mode (default both, each its own run)."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Invoice every subscription period that is due; re-running creates nothing new.

    Each mode is billed by its own run: one cannot stop the other. A period that cannot be priced is
    skipped and listed (every other one is billed); it stays listed by `meterbase invoices skipped`
    until a run prices it."""
    billing = Billing(get_store(db))
    until = period_cutoff(period, datetime.now(timezone.utc))
    total, skipped, failed = RunResult(), [], False
    for mode in ([env] if env else list(ENVIRONMENTS)):
        try:
            with Progress(TextColumn(f"[bold]{mode}"), BarColumn(), MofNCompleteColumn(), console=err_console) as bar:
                task = bar.add_task(mode, total=None)
                result = billing.run(until, mode, finalize, lambda done, n: bar.update(task, completed=done, total=n),
                                     finalize_now, lookback_days)
        except Exception as exc:  # noqa: BLE001 - an expected failure of one mode is reported; the other still runs
            err_console.print(f"{mode}: not billed")
            if expected_error(exc) is None:  # prints the error line
                raise
            failed = True
            continue
        console.print(f"{mode}: {summary(result)} (run {result.run_ids[0]})")
        total.merge(result)
        skipped.extend(result.skipped)
    if skipped:
        console.print(skipped_table(skipped, "skipped: could not be priced (every other period was billed)"))
    console.print(f"[green]done[/green]: {summary(total)}")
    if failed:
        raise typer.Exit(2)
    if skipped and fail_on_skipped:
        raise typer.Exit(1)


def summary(r: RunResult) -> str:
    return (f"{len(r.created)} created, {len(r.existing)} already existed, {len(r.finalized)} finalized, "
            f"{len(r.in_grace)} in their grace period, {len(r.adjustments)} adjustments of late usage, "
            f"{len(r.skipped)} skipped, {r.thresholds} thresholds reached")


def skipped_table(skips, title: str) -> Table:
    """Skipped periods: who, which period, and the meter value no price could take."""
    table = Table("mode", Column("customer / subscription", no_wrap=True), "period",
                  Column("what cannot be priced", overflow="fold"),
                  title=title)
    for s in skips:
        what = "late usage" if s.kind == "adjustment" else "invoice"
        table.add_row(s.environment, f"{s.customer_id}\n{s.subscription_id}",
                      f"{iso_us(s.period_start)[:10]} → {iso_us(s.period_end)[:10]}",
                      f"{what}: meter {s.meter_id or '?'} = {s.value} ({s.reason})")
    return table


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


from . import invoices_late  # noqa: E402,F401  (runs, skipped, adjustments, periods: commands on this app)
