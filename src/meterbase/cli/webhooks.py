"""``meterbase webhooks``: register endpoints, list them, deliver the outbox (once or in a loop)."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from ..webhooks import Deliverer, add_endpoint, list_endpoints
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store

app = typer.Typer(help="Webhook endpoints and delivery.", no_args_is_help=True)


@app.command("add-endpoint")
def add(url: str = typer.Option(..., "--url"),
        event_type: Optional[List[str]] = typer.Option(None, "--event-type", "-t", help="Repeat; none = every type."),
        env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Register an endpoint; its signing secret is printed once."""
    store = get_store(db)
    with friendly_errors(), store.write() as conn:
        ep = add_endpoint(conn, env, url, event_type or [], store.now())
    console.print(f"[green]created[/green] {ep.id}")
    print(ep.secret)


@app.command("list")
def list_(env: Optional[str] = typer.Option(None, "--env", "-e"), db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """List endpoints (secrets are not shown)."""
    store = get_store(db)
    with store.read() as conn:
        eps = list_endpoints(conn, env)
    table = Table("id", "env", "url", "event types", "disabled")
    for ep in eps:
        table.add_row(ep.id, ep.environment, ep.url, ", ".join(ep.event_types) or "*", "yes" if ep.disabled else "")
    console.print(table)


@app.command("deliver")
def deliver(once: bool = typer.Option(False, "--once", help="One pass, then exit."),
            loop: bool = typer.Option(False, "--loop", help="Keep delivering until interrupted."),
            interval: float = typer.Option(1.0, help="Seconds between idle passes (--loop)."),
            db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Post due outbox messages, signed; failures are retried later with exponential backoff."""
    deliverer = Deliverer(get_store(db))
    if loop and not once:
        try:
            deliverer.run(interval)
        except KeyboardInterrupt:
            return
        return
    report = deliverer.deliver_once()
    console.print(f"{len(report.delivered)} delivered, {len(report.retried)} to retry, {len(report.failed)} failed")
