"""``meterbase keys``: create, list and revoke API keys and customer portal tokens (tokens are shown once)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Column, Table

from ..storage import keys_repo
from ..timeutil import iso_us, to_us, parse_instant
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Option("default", "--name", "-n"),
    env: str = ENV_OPTION,
    read_only: bool = typer.Option(False, "--read-only", help="Key may only read."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create a key and print its token (store it now: only its SHA-256 digest is kept)."""
    with friendly_errors():
        token, key = get_store(db).create_key(name, env, read_only)
    console.print(f"[green]created[/green] {key.id} ({key.environment}{', read-only' if read_only else ''})")
    print(token)


@app.command("list")
def list_(db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """List keys (prefixes only)."""
    table = Table(Column("id", no_wrap=True), "name", "environment", "prefix", "read-only", "created", "revoked")
    for k in get_store(db).list_keys():
        table.add_row(k.id, k.name, k.environment, k.prefix + "…", "yes" if k.read_only else "", iso_us(k.created_at),
                      iso_us(k.revoked_at) if k.revoked_at else "")
    console.print(table)
    store = get_store(db)
    with store.read() as conn:
        tokens = keys_repo.list_portal_tokens(conn)
    if tokens:
        table = Table(Column("id", no_wrap=True), "customer", "name", "environment", "prefix", "created", "expires",
                      "revoked", title="portal tokens")
        for t in tokens:
            table.add_row(t.id, t.customer_id, t.name, t.environment, t.prefix + "…", iso_us(t.created_at),
                          iso_us(t.expires_at) if t.expires_at else "", iso_us(t.revoked_at) if t.revoked_at else "")
        console.print(table)


@app.command("portal")
def portal(
    customer: str = typer.Option(..., "--customer", "-c", help="The customer_id the token may read."),
    env: str = ENV_OPTION,
    name: str = typer.Option("portal", "--name", "-n"),
    expires: Optional[str] = typer.Option(None, "--expires", help="ISO-8601 instant after which it stops working."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create a read-only portal token for one customer's usage, entitlements and invoices (printed once)."""
    store = get_store(db)
    with friendly_errors():
        try:
            expires_at = to_us(parse_instant(expires)) if expires else None
        except (ValueError, OverflowError):
            raise keys_repo.ValidationError(f"--expires must be an ISO-8601 instant, got {expires!r}", "expires") from None
        with store.write() as conn:
            token, tok = keys_repo.create_portal_token(conn, env, customer, store.now(), name, expires_at)
    console.print(f"[green]created[/green] {tok.id} (portal token for {tok.customer_id}, {tok.environment})")
    print(token)


@app.command("revoke")
def revoke(key_id: str, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Revoke a key or portal token (servers stop accepting it within 5 seconds)."""
    with friendly_errors():
        get_store(db).revoke_key(key_id)
    console.print(f"revoked {key_id}")
