"""``meterbase meters``: list and create meters against the local database."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Column, Table

from ..errors import ValidationError
from ..meters.aggregations import REGISTRY, params as agg_params
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store, json_option

app = typer.Typer(help="Manage meters.", no_args_is_help=True)

#: ``--aggregation`` help, from the registry: every member with what it computes.
AGGREGATION_HELP = "; ".join(f"{a.name}: {a.description}" for a in REGISTRY.values())


#: ``--param`` help, from the registry: every extra parameter of any member, with its values.
PARAM_HELP = "NAME=VALUE, repeatable: " + "; ".join(
    f"{p.name}={'|'.join(p.choices)} ({p.description}, default {p.default})" for p in agg_params().values())


def _params(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"--param takes NAME=VALUE, got {pair!r}", "--param")
        out[name.strip()] = value.strip()
    return out


@app.command("list")
def list_(env: str = ENV_OPTION, archived: bool = typer.Option(False, help="Show archived meters."),
          db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """List meters."""
    table = Table(Column("id", no_wrap=True), "name", "event_name", "aggregation", "unit", "filter")
    for m in get_store(db).list_meters(env, archived, limit=1000):
        agg = m.aggregation + (f"({', '.join([m.key] + list(m.params.values()))})" if m.key else "")
        table.add_row(m.id, m.spec.name, m.event_name, agg, m.spec.measurement_unit, "yes" if m.spec.filter else "")
    console.print(table)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    event_name: str = typer.Option(..., "--event-name"),
    aggregation: str = typer.Option("count", "--aggregation", "-a", help=AGGREGATION_HELP),
    key: Optional[str] = typer.Option(None, "--key", "-k", help="Metadata property to aggregate."),
    param: list[str] = typer.Option([], "--param", "-p", help=PARAM_HELP),
    unit: str = typer.Option("units", "--unit"),
    filter_json: Optional[str] = typer.Option(None, "--filter", help='JSON, e.g. {"conjunction":"and","clauses":[...]}'),
    env: str = ENV_OPTION,
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Create a meter (existing events are backfilled)."""
    with friendly_errors():
        agg = {"type": aggregation, "key": key, **_params(param)}
        raw = {"name": name, "event_name": event_name, "aggregation": agg,
               "measurement_unit": unit, "filter": json_option(filter_json, "--filter")}
        meter = get_store(db).create_meter(env, raw)
    console.print(f"[green]created[/green] {meter.id}")
