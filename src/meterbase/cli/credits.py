"""``meterbase credits``: credit entitlements, grants and debits, balances, ledgers, cycles, wallets, the sweep.

Every command works on the database directly (``--db``, default ``$MB_DATABASE_URL``) in one environment
(``--env``, default test_mode); ``--json`` prints the API's shapes. Expected failures (an unknown
entitlement, insufficient credits, a bad amount) print one line and exit 2.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import orjson
import typer
from rich.table import Column, Table

from ..credits.metered import consume
from ..credits.service import CreditService, settle_due
from ..credits.views import entitlement_native
from ..credits.wallet_service import WalletService
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

app = typer.Typer(help="Prepaid credits: entitlements, grants, debits, balances, ledgers, cycles, wallets.",
                  no_args_is_help=True)
entitlements = typer.Typer(help="Credit entitlements (what a credit is and how it behaves).", no_args_is_help=True)
app.add_typer(entitlements, name="entitlements")
DB = typer.Option(None, "--db", help=DB_HELP)
JSON = typer.Option(False, "--json", help="Print JSON (the API's shape).")


def _svc(db: Optional[str], env: str) -> CreditService:
    return CreditService(get_store(db), env)


def _print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _id_column():
    return Column("id", no_wrap=True, min_width=28)  # ids are copied into the next command: never cut


def _entry_line(d: dict) -> str:
    return (f"{d['transaction_type']} {d['amount']}: balance {d['balance_before']} -> {d['balance_after']}, "
            f"overage {d['overage_before']} -> {d['overage_after']} ({d['id']}{', replayed' if d['replayed'] else ''})")


@entitlements.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    unit: str = typer.Option(..., "--unit", help="e.g. 'API Calls', 'Tokens'."),
    precision: int = typer.Option(0, "--precision", help="Decimal places (0-10), fixed at creation."),
    description: Optional[str] = typer.Option(None, "--description"),
    currency: Optional[str] = typer.Option(None, "--currency"),
    price_per_unit: Optional[str] = typer.Option(None, "--price-per-unit", help="Overage price per credit (major units)."),
    expires_after_days: Optional[int] = typer.Option(None, "--expires-after-days"),
    overage: bool = typer.Option(False, "--overage/--no-overage", help="Allow debits past zero."),
    overage_limit: Optional[str] = typer.Option(None, "--overage-limit"),
    overage_behavior: str = typer.Option("forgive_at_reset", "--overage-behavior",
                                         help="forgive_at_reset | invoice_at_billing | carry_deficit | "
                                              "carry_deficit_auto_repay"),
    rollover: bool = typer.Option(False, "--rollover/--no-rollover"),
    rollover_percentage: Optional[int] = typer.Option(None, "--rollover-percentage"),
    rollover_timeframe_count: Optional[int] = typer.Option(None, "--rollover-timeframe-count"),
    rollover_timeframe_interval: Optional[str] = typer.Option(None, "--rollover-timeframe-interval",
                                                              help="Day | Week | Month | Year"),
    max_rollover_count: Optional[int] = typer.Option(None, "--max-rollover-count"),
    low_balance: Optional[int] = typer.Option(None, "--low-balance-threshold-percent"),
    covers_policy_usage: bool = typer.Option(False, "--covers-policy-usage", help="A money credit (--price-per-unit: "
                                             "money per credit) whose balances pay for allow()'s priced usage."),
    env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON,
):
    """Create a credit entitlement; prints its id."""
    body = {"name": name, "unit": unit, "precision": precision, "description": description, "currency": currency,
            "price_per_unit": price_per_unit, "expires_after_days": expires_after_days, "overage_enabled": overage,
            "overage_limit": overage_limit, "overage_behavior": overage_behavior, "rollover_enabled": rollover,
            "rollover_percentage": rollover_percentage, "rollover_timeframe_count": rollover_timeframe_count,
            "rollover_timeframe_interval": rollover_timeframe_interval, "max_rollover_count": max_rollover_count,
            "low_balance_threshold_percent": low_balance, "covers_policy_usage": covers_policy_usage or None}
    with friendly_errors():
        ent = _svc(db, env).create_entitlement({k: v for k, v in body.items() if v is not None})
    if as_json:
        _print_json(entitlement_native(ent))
    else:
        console.print(f"created credit entitlement {ent.name!r} ({ent.unit}, precision {ent.precision}):")
        print(ent.id)


@entitlements.command("list")
def list_(deleted: bool = typer.Option(False, "--deleted"), limit: int = typer.Option(100, "--limit"),
          env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """List credit entitlements, newest first."""
    with friendly_errors():
        found = _svc(db, env).list_entitlements(deleted=deleted, limit=limit)
    if as_json:
        return _print_json([entitlement_native(e) for e in found])
    table = Table("name", "unit", "precision", "expires (days)", "rollover", "overage")
    table.columns.insert(0, _id_column())
    for e in found:
        roll = f"{e.rollover_percentage if e.rollover_percentage is not None else 100}%" if e.rollover_enabled else "-"
        over = (f"{e.overage_behavior}" + (f" (limit {e.amount_text(e.overage_limit)})" if e.overage_limit is not None
                                           else "")) if e.overage_enabled else "-"
        table.add_row(e.id, e.name, e.unit, str(e.precision), str(e.expires_after_days or "-"), roll, over)
    console.print(table)


@entitlements.command("show")
def show(entitlement_id: str, env: str = ENV_OPTION, db: Optional[str] = DB):
    """Show one credit entitlement (JSON)."""
    with friendly_errors():
        _print_json(entitlement_native(_svc(db, env).get_entitlement(entitlement_id, deleted_ok=True)))


@app.command("grant")
def grant(entitlement_id: str, customer_id: str, amount: str,
          expires_at: Optional[str] = typer.Option(None, "--expires-at", help="ISO-8601 instant."),
          source_type: str = typer.Option("api", "--source-type", help="api | one_time | addon | subscription"),
          reason: Optional[str] = typer.Option(None, "--reason"),
          idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"),
          env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """Grant credits to a customer (a new grant)."""
    with friendly_errors():
        rec = _svc(db, env).grant(entitlement_id, customer_id, amount, expires_at=expires_at, source_type=source_type,
                                  reason=reason, idempotency_key=idempotency_key)
    _print_json(rec.to_dict()) if as_json else console.print(_entry_line(rec.to_dict()))


@app.command("debit")
def debit(entitlement_id: str, customer_id: str, amount: str, reason: Optional[str] = typer.Option(None, "--reason"),
          idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"),
          env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """Debit credits (oldest / earliest-expiring grants first, then overage when enabled)."""
    with friendly_errors():
        rec = _svc(db, env).debit(entitlement_id, customer_id, amount, reason=reason, idempotency_key=idempotency_key)
    _print_json(rec.to_dict()) if as_json else console.print(_entry_line(rec.to_dict()))


@app.command("adjust")
def adjust(entitlement_id: str, customer_id: str, amount: str = typer.Argument(..., help="Signed; use -- before a "
                                                                                 "negative amount."),
           reason: Optional[str] = typer.Option(None, "--reason"),
           idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"),
           env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """A manual adjustment: a positive amount grants, a negative one deducts (never into overage)."""
    with friendly_errors():
        rec = _svc(db, env).adjust(entitlement_id, customer_id, amount, reason=reason, idempotency_key=idempotency_key)
    _print_json(rec.to_dict()) if as_json else console.print(_entry_line(rec.to_dict()))


@app.command("balance")
def balance(entitlement_id: str, customer_id: str, env: str = ENV_OPTION, db: Optional[str] = DB,
            as_json: bool = JSON):
    """A customer's balance and overage as of now."""
    with friendly_errors():
        b = _svc(db, env).balance(entitlement_id, customer_id).to_dict()
    if as_json:
        return _print_json(b)
    cycle = b["cycle"]
    console.print(f"{customer_id}: balance {b['balance']}, overage {b['overage']}"
                  + (f"; cycle every {cycle['interval_count']} {cycle['interval']} from {cycle['anchor']}" if cycle
                     else "") + (f"; next expiry or cycle end {b['next_event_at']}" if b["next_event_at"] else ""))


@app.command("ledger")
def ledger(entitlement_id: str, customer_id: str,
           transaction_type: Optional[str] = typer.Option(None, "--type", help="e.g. credit_deducted"),
           limit: int = typer.Option(100, "--limit"), env: str = ENV_OPTION, db: Optional[str] = DB,
           as_json: bool = JSON):
    """A balance's ledger, oldest first."""
    with friendly_errors():
        found = _svc(db, env).ledger(entitlement_id, customer_id, transaction_type=transaction_type, limit=limit,
                                     newest_first=False)
    rows = [r.to_dict() for r in found]
    if as_json:
        return _print_json(rows)
    table = Table(Column("when", no_wrap=True), Column("type", no_wrap=True), "amount", "balance after",
                  "overage after", "reason")
    for d in rows:
        sign = "+" if d["is_credit"] else "-"
        table.add_row(d["created_at"][:19].replace("T", " "), d["transaction_type"], sign + d["amount"],
                      d["balance_after"], d["overage_after"], d["reason"] or "")
    console.print(table)


@app.command("grants")
def grants(entitlement_id: str, customer_id: str,
           status: Optional[str] = typer.Option(None, "--status", help="active | expired | depleted"),
           env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """A balance's grants with their expiry."""
    with friendly_errors():
        rows = _svc(db, env).grants(entitlement_id, customer_id, status)
    if as_json:
        return _print_json(rows)
    table = Table("source", "granted", "remaining", "status", "ends", "created")
    table.columns.insert(0, _id_column())
    for g in rows:
        table.add_row(g["id"], g["source_type"], g["initial_amount"], g["remaining_amount"],
                      g["status"] + (f" ({g['closed']})" if g["closed"] else ""), g["expires_at"] or g["cycle_end"] or "-",
                      g["created_at"])
    console.print(table)


@app.command("cycle")
def cycle(entitlement_id: str, customer_id: str, anchor: Optional[str] = typer.Option(None, "--anchor"),
          interval: str = typer.Option("month", "--interval", help="day | week | month | year"),
          count: int = typer.Option(1, "--count"),
          credits_per_cycle: Optional[str] = typer.Option(None, "--credits-per-cycle"),
          source_id: Optional[str] = typer.Option(None, "--source-id"),
          clear: bool = typer.Option(False, "--clear", help="Stop following a cycle."),
          env: str = ENV_OPTION, db: Optional[str] = DB):
    """Make a balance follow a billing cycle (rollover and overage at each end; credits issued per cycle)."""
    raw = None if clear else {"anchor": anchor, "interval": interval, "interval_count": count,
                              "credits_per_cycle": credits_per_cycle, "source_id": source_id}
    with friendly_errors():
        b = _svc(db, env).set_cycle(entitlement_id, customer_id,
                                    None if raw is None else {k: v for k, v in raw.items() if v is not None})
    console.print(f"{customer_id}: balance {b.to_dict()['balance']}, cycle "
                  + ("none" if b.schedule is None else f"every {count} {interval} from {b.to_dict()['cycle']['anchor']}"))


@app.command("subscription")
def subscription(subscription_id: str, env: str = ENV_OPTION, db: Optional[str] = DB, as_json: bool = JSON):
    """The credits a subscription's product issues or its meters deduct, with the customer's balances."""
    with friendly_errors():
        items = _svc(db, env).subscription_credits(subscription_id)
    if as_json:
        _print_json({"items": items, "subscription_id": subscription_id})
        return
    table = Table(_id_column(), "name", Column("balance", justify="right"), Column("overage", justify="right"),
                  "overage limit", "limit reached")
    for i in items:
        table.add_row(i["credit_entitlement_id"], i["credit_entitlement_name"], f"{i['balance']} {i['unit']}",
                      i["overage"], i["overage_limit"] or ("unlimited" if i["overage_enabled"] else "disabled"),
                      "yes" if i["limit_reached"] else "no")
    console.print(table)


@app.command("settle")
def settle(env: Optional[str] = typer.Option(None, "--env", "-e", help="test_mode / live_mode (default: all)."),
           loop: bool = typer.Option(False, "--loop", help="Keep settling every --interval seconds."),
           interval: float = typer.Option(60, "--interval"), db: Optional[str] = DB):
    """Deduct the credits of metered events stored so far, and write the expiries and cycle ends due by now
    (idempotent; run it beside the server or alone — concurrent sweeps take turns)."""
    with friendly_errors():
        store = get_store(db)
        try:
            while True:
                events = consume(store, env)
                console.print(f"deducted credits of {events} metered event(s); "
                              f"settled {settle_due(store, environment=env)} balance(s)")
                if not loop:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            store.close()


@app.command("wallet")
def wallet(customer_id: str, credit: Optional[int] = typer.Option(None, "--credit", help="Add minor units."),
           debit: Optional[int] = typer.Option(None, "--debit", help="Take minor units."),
           currency: str = typer.Option("USD", "--currency"), reason: Optional[str] = typer.Option(None, "--reason"),
           idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"),
           env: str = ENV_OPTION, db: Optional[str] = DB):
    """Show a customer's wallets, or credit/debit one (amounts in minor units: 500 = $5.00)."""
    if credit is not None and debit is not None:
        err_console.print("[red]error:[/red] give --credit or --debit, not both")
        raise typer.Exit(2)
    with friendly_errors():
        svc = WalletService(get_store(db), env)
        if credit is not None or debit is not None:
            svc.create_entry(customer_id, amount=credit if credit is not None else debit, currency=currency,
                             entry_type="credit" if credit is not None else "debit", idempotency_key=idempotency_key,
                             reason=reason)
        found, usd = svc.wallets(customer_id)
    table = Table("currency", "balance (minor units)", "updated")
    for w in found:
        table.add_row(w.currency, str(w.balance), w.to_dict()["updated_at"])
    console.print(table)
    console.print(f"total_balance_usd: {usd}")
