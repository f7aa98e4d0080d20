"""``meterbase blueprints``: list and create the meters the ingestion blueprints suggest.

Over HTTP when an API key is given (``--api-key`` or ``$MB_API_KEY``), otherwise straight into
the local database (``--db``/``--env``), like ``meterbase ingest``. Creating is idempotent: a
suggested meter whose definition (event name, aggregation, key, filter) matches an active
meter is reported, not duplicated.
"""

from __future__ import annotations

import json
from typing import List, Optional

import typer
from rich.table import Column, Table

from ..sdk.blueprints.meters import BLUEPRINTS, EVENT_SLOTS, suggested_meters
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

app = typer.Typer(help="Ingestion blueprints (LLM, API gateway, object storage, stream, time range).",
                  no_args_is_help=True)

_BP_HELP = f"Blueprints (default: all): {', '.join(BLUEPRINTS)}."
_EV_HELP = f"Override an event name, SLOT=NAME (repeatable); slots: {', '.join(EVENT_SLOTS)}."
_UNIT_HELP = "Time-range property to sum: ms (durationMs), seconds (durationSeconds) or minutes (durationMinutes)."


def _event_names(pairs: List[str]) -> dict:
    out = {}
    for pair in pairs or []:
        slot, sep, name = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected SLOT=NAME, got {pair!r}", param_hint="--event-name")
        out[slot.strip()] = name.strip()
    return out


def _plan(blueprints: List[str], event_name: List[str], time_unit: str):
    try:
        return suggested_meters(blueprints or None, event_names=_event_names(event_name), time_unit=time_unit)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _agg(s) -> str:
    return s.aggregation + (f"({s.key})" if s.key else "")


def _filter(f: dict | None) -> str:
    if not f:
        return ""
    return f" {f.get('conjunction', 'and')} ".join(
        f"{c['key']} {c['operator']} {json.dumps(c.get('value'))}" if "key" in c else "(…)" for c in f["clauses"])


@app.command("list")
def list_(
    blueprints: Optional[List[str]] = typer.Argument(None, help=_BP_HELP),
    event_name: List[str] = typer.Option([], "--event-name", help=_EV_HELP),
    time_unit: str = typer.Option("ms", "--time-unit", help=_UNIT_HELP),
):
    """Show the suggested meters (nothing is created)."""
    table = Table("blueprint", "name", Column("event_name", no_wrap=True), "aggregation", "unit", "filter")
    for s in _plan(blueprints, event_name, time_unit):
        table.add_row(s.blueprint, s.name, s.event_name, _agg(s), s.measurement_unit, _filter(s.filter))
    console.print(table)


@app.command("create-meters")
def create_meters(
    blueprints: Optional[List[str]] = typer.Argument(None, help=_BP_HELP),
    event_name: List[str] = typer.Option([], "--event-name", help=_EV_HELP),
    time_unit: str = typer.Option("ms", "--time-unit", help=_UNIT_HELP),
    url: str = typer.Option("http://127.0.0.1:8080", envvar="MB_URL", help="Server URL (with --api-key)."),
    api_key: Optional[str] = typer.Option(None, envvar="MB_API_KEY", help="Create over HTTP with this key."),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create the suggested meters of the given blueprints (idempotent)."""
    plan = _plan(blueprints, event_name, time_unit)
    rows = []
    if api_key:
        from ..sdk.blueprints.meters import create_suggested_meters
        from ..sdk.client import Meterbase, MeterbaseAPIError

        try:
            with Meterbase(api_key=api_key, base_url=url) as client:
                results = create_suggested_meters(client, blueprints or None, event_names=_event_names(event_name),
                                                  time_unit=time_unit)
        except MeterbaseAPIError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        rows = [(s, m["id"], created) for s, (m, created) in zip(plan, results)]
    else:
        with friendly_errors():
            store = get_store(db)
            existing = store.list_meters(env, False, limit=1000)
            for s in plan:
                found = next((m for m in existing if s.matches(m.event_name, m.aggregation, m.key, m.spec.filter, m.spec.aggregation_params)), None)
                if found is None:
                    found = store.create_meter(env, s.body())
                    existing.append(found)
                    rows.append((s, found.id, True))
                else:
                    rows.append((s, found.id, False))
    table = Table(Column("id", no_wrap=True), "", "name", "event_name", "aggregation", "filter")
    for s, meter_id, created in rows:
        table.add_row(meter_id, "[green]created[/green]" if created else "exists", s.name, s.event_name, _agg(s),
                      _filter(s.filter))
    console.print(table)
