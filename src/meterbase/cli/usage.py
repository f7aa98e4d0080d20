"""``meterbase usage METER_ID``: a meter's value per customer over a range, as a table."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ..api.deps import instant_param
from ..api.serialize import usage_json
from ..config import Settings
from ..usage_limits import bounded_usage
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store


def usage(
    meter_id: str,
    from_: str = typer.Option(..., "--from", help="ISO-8601 start (inclusive)"),
    to: str = typer.Option(..., "--to", help="ISO-8601 end (exclusive)"),
    customer: Optional[str] = typer.Option(None, "--customer", "-c"),
    window: str = typer.Option("day", help="minute|hour|day|month"),
    tz: str = typer.Option("UTC"),
    group_by: Optional[str] = typer.Option(None, help="Comma-separated metadata keys"),
    show_windows: bool = typer.Option(False, "--windows", help="Print every window."),
    sparse: bool = typer.Option(False, "--sparse", help="With --windows: only the windows in which an event counted."),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Show a meter's usage (bounded by MB_MAX_USAGE_CELLS cells, as the API)."""
    with friendly_errors():
        keys = [k for k in (group_by or "").split(",") if k]
        result = bounded_usage(get_store(db), env, meter_id, instant_param(from_, "from"), instant_param(to, "to"),
                               window, tz, customer, keys or None, Settings.from_env().max_usage_cells)
    data = usage_json(result, sparse)
    table = Table("customer", "group", "value", "events", "rejected", title=f"{data['aggregation']} · {data['measurement_unit']}")
    for row in data["data"]:
        table.add_row(row["customer_id"], str(row["group"] or ""), row["value"] or "—", str(row["events"]), str(row["rejected"]))
        if show_windows:
            for w in row["windows"]:
                table.add_row("", f"  {w['start']} → {w['end']}", w["value"] or "—", "", "")
    console.print(table)
