"""``meterbase keys``: create, list and revoke API keys (the token is shown once)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Column, Table

from ..timeutil import iso_us
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


@app.command("revoke")
def revoke(key_id: str, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Revoke a key (servers stop accepting it within 5 seconds)."""
    with friendly_errors():
        get_store(db).revoke_key(key_id)
    console.print(f"revoked {key_id}")
