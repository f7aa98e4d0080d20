"""``meterbase policy``: load a policy document, decide and price calls, read standings and overage lines.

The same service as ``/v1/policy`` on the database of ``--db`` (one environment per ``--env``): ``load`` publishes
a YAML/JSON document, ``check`` previews a call (price included), ``allow`` meters it, ``status`` shows an
entitlement this period with what its calls were worth, ``overage`` lists soft-limit overage as invoice lines,
``price`` shows a credit's curve from a position (Limitr's ``price_of``). Expected failures print one line and
exit 2.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import NotFound, ValidationError
from ..policy.pricing import price_of, quantity_for
from ..credits.covering import LedgerCovering
from ..policy.service import PolicyService
from ..timeutil import parse_instant
from ..units import convert
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store

app = typer.Typer(help="Limits: load a policy, check / allow / price calls, standings, overage lines.",
                  no_args_is_help=True)

_DB = typer.Option(None, help=DB_HELP)


def _service(db: Optional[str], env: str) -> PolicyService:
    return PolicyService(get_store(db), environment=env, covering=LedgerCovering())


def _decision(d: dict) -> None:
    table = Table(show_header=False, box=None)
    for key in ("allowed", "reason", "mode", "amount", "consumed", "used_after", "limit", "remaining", "overage",
                "price_diff", "overage_price", "overhead_cost", "cap", "event_id"):
        if d.get(key) is not None:
            table.add_row(key, str(d[key]))
    for cap in d.get("caps", []):
        table.add_row(f"cap {cap['name']}", f"{cap['spent_after']} of {cap['value']}" + (" (observe)" if cap["observe_only"] else ""))
    console.print(table)


@app.command("load")
def load(file: Path = typer.Argument(..., help="A policy document (.yaml/.yml or .json)."), env: str = ENV_OPTION,
         db: Optional[str] = _DB):
    """Validate and publish FILE as the environment's active policy (a no-op when it is already active)."""
    with friendly_errors():
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read {file}: {exc.strerror}", "file") from None
        fmt = "json" if file.suffix.lower() == ".json" else "yaml"
        version = _service(db, env).set_policy(text, fmt)
        plans = ", ".join(version.policy.plans)
        state = "published" if version.created else "already active"
        console.print(f"policy v{version.version} {state} in {env}: plans {plans}; credits {', '.join(version.policy.credits)}")


@app.command("check")
def check(customer: str, entitlement: str, amount: Optional[str] = typer.Argument(None, help="e.g. 90s, 1.5hr, 10GB, -5"),
          env: str = ENV_OPTION, db: Optional[str] = _DB):
    """Would allow() accept AMOUNT, and what would it be worth? Nothing is consumed."""
    with friendly_errors():
        _decision(_service(db, env).check(customer, entitlement, amount).to_dict())


@app.command("allow")
def allow(customer: str, entitlement: str, amount: str = typer.Argument(..., help="e.g. 90s, 1.5hr, 10GB, -5 (a refund)"),
          idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"), env: str = ENV_OPTION,
          db: Optional[str] = _DB):
    """Decide, meter and price AMOUNT (a new customer starts on the default plan; exit 1 when refused)."""
    with friendly_errors():
        svc = _service(db, env)
        svc.ensure_customer(customer)
        outcome = svc.allow(customer, entitlement, amount, idempotency_key=idempotency_key)
        _decision(outcome.to_dict())
    if not outcome.allowed:
        raise typer.Exit(1)


@app.command("status")
def status(customer: str, entitlement: str, env: str = ENV_OPTION, db: Optional[str] = _DB):
    """Usage, limit, remaining, the period's prices and spend caps of one entitlement."""
    with friendly_errors():
        s = _service(db, env).status(customer, entitlement).to_dict()
    table = Table(show_header=False, box=None)
    for key in ("plan", "mode", "credit", "used", "limit", "remaining", "percent", "overage", "price", "overage_price",
                "cost", "period_start", "period_end"):
        table.add_row(key, "-" if s[key] is None else str(s[key]))
    for cap in s["caps"]:
        table.add_row(f"cap {cap['name']}", f"{cap['spent']} of {cap['value']}")
    console.print(table)


def _instant(value: Optional[str], field: str, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        return parse_instant(value)
    except (ValueError, OverflowError):
        raise ValidationError(f"{field} must be an ISO-8601 instant, got {value!r}", field) from None


@app.command("overage")
def overage(customer: str, from_: Optional[str] = typer.Option(None, "--from", help="Periods starting at or after (ISO-8601)."),
            to: Optional[str] = typer.Option(None, "--to", help="Periods starting before (ISO-8601; default now)."),
            currency: str = typer.Option("USD", "--currency"), env: str = ENV_OPTION, db: Optional[str] = _DB):
    """Soft-limit overage as invoice lines, priced with the recorded prices of the calls."""
    with friendly_errors():
        svc = _service(db, env)
        start = _instant(from_, "from", datetime(1970, 1, 1, tzinfo=timezone.utc))
        end = _instant(to, "to", svc.clock())
        lines = svc.overage_lines(customer, start, end, currency.upper())
    table = Table("entitlement", "period", "overage", "amount")
    for line in lines:
        period = "lifetime" if line.period_start is None else f"{line.period_start:%Y-%m-%d} .. {line.period_end:%Y-%m-%d}"
        amount = "unpriced" if line.line is None else f"{line.line.amount} {line.line.currency}"
        table.add_row(line.entitlement, period, str(line.overage), amount)
    console.print(table)


@app.command("price")
def price(credit: str, quantity: str = typer.Argument(..., help="Units (unit strings convert into the credit's units)."),
          offset: str = typer.Option("0", "--offset", help="Billable position the units start at (negative: included)."),
          env: str = ENV_OPTION, db: Optional[str] = _DB):
    """A credit's price for QUANTITY units from --offset on its curve, and what that money buys back."""
    with friendly_errors():
        policy = _service(db, env).policy
        if credit not in policy.credits:
            raise NotFound(f"unknown credit {credit!r} (known: {', '.join(policy.credits)})", "credit")
        c = policy.credits[credit]
        units = convert(quantity, c.stof_units, "quantity")
        start = convert(offset, c.stof_units, "offset")
        cost = price_of(c, units, start)
        if cost is None:
            raise ValidationError(f"credit {credit!r} has no price", "credit")
        back = quantity_for(c, cost, start) if cost > 0 else Decimal(0)
    console.print(f"{units} {c.stof_units or 'units'} of {credit} ({c.pricing_model}) from position {start}: {cost}"
                  + ("" if back is None else f" (that money buys {back} units there)"))
