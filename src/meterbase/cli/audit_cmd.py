"""``meterbase audit list``: the audit log of key and configuration changes."""

from __future__ import annotations

from typing import Optional

import orjson
import typer
from rich.table import Column, Table

from ..storage import audit
from ..timeutil import iso_us
from .common import DB_HELP, ENV_OPTION, console, get_store

app = typer.Typer(help="Audit log of key and configuration changes.", no_args_is_help=True)


@app.command("list")
def list_(
    env: str = ENV_OPTION,
    action: Optional[str] = typer.Option(None, "--action", help=", ".join(audit.ACTIONS)),
    target: Optional[str] = typer.Option(None, "--target", help="Id of the changed object."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Newest entries first."""
    store = get_store(db)
    with store.read() as conn:
        rows = audit.list_entries(conn, env, limit=limit, action=action, target=target)
    if as_json:
        for r in rows:
            print(orjson.dumps({**r, "at": iso_us(r["at"])}).decode())
        return
    table = Table(Column("at", no_wrap=True), "actor", "action", Column("target", no_wrap=True), "details")
    for r in rows:
        table.add_row(iso_us(r["at"]), r["actor"], r["action"], r["target"],
                      orjson.dumps(r["details"]).decode() if r["details"] else "")
    console.print(table)
