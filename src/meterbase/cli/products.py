"""``meterbase products``: products (a fixed fee plus priced meters) — create, list, show."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Column, Table

from ..errors import ValidationError
from ..formatting import describe_price, fmt_money
from ..invoicing import Billing
from .common import DB_HELP, ENV_OPTION, console, get_store, json_option

app = typer.Typer(help="Products: create, list, show.", no_args_is_help=True)


def per_unit_line(spec: str) -> dict:
    """``METER_ID:UNIT_PRICE[:FREE_UNITS]`` -> a product meter line."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValidationError(f"--meter takes METER_ID:UNIT_PRICE[:FREE_UNITS], got {spec!r}", "meter")
    line = {"meter_id": parts[0], "price_per_unit": parts[1]}
    if len(parts) == 3:
        line["free_threshold"] = parts[2]
    return line


def credit_attachment(spec: str) -> dict:
    """``ENTITLEMENT_ID:CREDITS_PER_CYCLE[:TRIAL_CREDITS]`` -> a product's credit entitlement."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValidationError(f"--credits takes ENTITLEMENT_ID:CREDITS_PER_CYCLE[:TRIAL_CREDITS], got {spec!r}",
                              "credits")
    out = {"credit_entitlement_id": parts[0], "credits_amount": parts[1]}
    return {**out, "trial_credits": parts[2]} if len(parts) == 3 else out


@app.command("create")
def create(
    name: Optional[str] = typer.Option(None, "--name"),
    currency: str = typer.Option("USD", "--currency"),
    fixed_fee: str = typer.Option("0", "--fixed-fee", help="Per billing period, in major units (49.00)."),
    interval: str = typer.Option("month", "--interval", help="day | week | month | year"),
    meter: Optional[List[str]] = typer.Option(None, "--meter", help="METER_ID:UNIT_PRICE[:FREE_UNITS] (repeatable)."),
    meter_json: Optional[List[str]] = typer.Option(
        None, "--meter-json", help='A full meter line (repeatable): {"meter_id": …, "price": {"model": "graduated", …}}'),
    credits: Optional[List[str]] = typer.Option(
        None, "--credits", help="ENTITLEMENT_ID:CREDITS_PER_CYCLE[:TRIAL_CREDITS]: credits each subscription receives "
                                "(repeatable)."),
    file: Optional[Path] = typer.Option(None, "--file", help="The whole body of POST /v1/products, as JSON."),
    grace_period_hours: Optional[int] = typer.Option(
        None, "--grace-period-hours", min=0, help="Hours after a period's end its invoice stays a draft (default 0)."),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create a product (the same body and rules as POST /v1/products)."""
    if file is not None:
        body = json_option(file.read_text(), "--file")
    else:
        if not name:
            raise ValidationError("--name is required (or give --file)", "name")
        lines = [per_unit_line(m) for m in meter or []] + [json_option(j, "--meter-json") for j in meter_json or []]
        body = {"name": name, "currency": currency, "fixed_fee": fixed_fee,
                "billing_period": {"interval": interval, "count": 1}, "meters": lines,
                "credit_entitlements": [credit_attachment(c) for c in credits or []]}
    if grace_period_hours is not None:
        body["grace_period_hours"] = grace_period_hours
    p = Billing(get_store(db)).create_product(env, body)
    console.print(f"[green]created[/green] {p.id} ({p.plan.name})")


@app.command("list")
def list_(env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Products with their fixed fee and priced meters."""
    table = Table(Column("id", no_wrap=True), "name", Column("fixed fee", justify="right"), "period", "meters")
    for p in Billing(get_store(db)).list_products(env, 1000):
        plan = p.plan
        table.add_row(p.id, plan.name, fmt_money(plan.fixed_fee.amount, plan.currency),
                      f"{plan.cycle.count} {plan.cycle.unit}", str(len(plan.usage)))
    console.print(table)


@app.command("show")
def show(product_id: str, env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """One product: fixed fee, and each priced meter with its tiers."""
    store = get_store(db)
    p = Billing(store).get_product(env, product_id)
    plan = p.plan
    console.print(f"[bold]{plan.name}[/bold]  {p.id}  {plan.currency}, billed every {plan.cycle.count} {plan.cycle.unit}")
    console.print(f"fixed fee: {fmt_money(plan.fixed_fee.amount, plan.currency)}")
    table = Table("meter", "price", "tiers", "limits", title="priced meters")
    for u in plan.usage:
        meter = store.get_meter(env, u.meter_id)
        d = describe_price(u.price.to_dict(), plan.currency, meter.spec.measurement_unit)
        if u.credits is not None:
            d = {"summary": f"paid with credits: {u.credits.units_per_credit} {meter.spec.measurement_unit} = 1 credit "
                            f"of {u.credits.entitlement_id}", "tiers": [], "limits": []}
        table.add_row(f"{u.description or meter.spec.name}\n{u.meter_id}", d["summary"],
                      "\n".join(f"{span}: {cost}" for span, cost in d["tiers"]), ", ".join(d["limits"]))
    console.print(table)
    for a in plan.credits:
        trial = f", {a.trial_credits} trial credits" if a.trial_credits is not None else ""
        console.print(f"credits: {a.credits_amount} of {a.entitlement_id} per cycle{trial}")
