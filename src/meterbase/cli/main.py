"""The ``meterbase`` command (Typer app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import __version__
from ..storage import audit
from . import blueprints, keys, meters
from .common import DB_HELP, FriendlyGroup, console, get_store
from .ingest import ingest
from .serve import serve
from .usage import usage

app = typer.Typer(help="meterbase: usage metering, limits and billing.", no_args_is_help=True, add_completion=False,
                  cls=FriendlyGroup)  # expected failures of every command: one line, exit 2


@app.callback()
def _root(ctx: typer.Context):
    # Audit entries written by this command name the OS user; `serve` answers requests as their keys.
    if ctx.invoked_subcommand != "serve":
        ctx.with_resource(audit.acting_as(audit.cli_actor()))


app.add_typer(keys.app, name="keys")
app.add_typer(meters.app, name="meters")
app.add_typer(blueprints.app, name="blueprints")
from . import customers, invoices, products, subscriptions, webhooks  # noqa: E402
app.add_typer(customers.app, name="customers")
app.add_typer(products.app, name="products")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(invoices.app, name="invoices")
app.add_typer(webhooks.app, name="webhooks")
from . import sessions as sessions_cli  # noqa: E402
app.add_typer(sessions_cli.app, name="sessions")
from . import audit_cmd  # noqa: E402
app.add_typer(audit_cmd.app, name="audit")
from . import credits as credits_cli  # noqa: E402
app.add_typer(credits_cli.app, name="credits")
from . import policy as policy_cli  # noqa: E402
app.add_typer(policy_cli.app, name="policy")
from . import events_cmd  # noqa: E402
app.add_typer(events_cmd.app, name="events")
app.command("serve")(serve)
app.command("ingest")(ingest)
app.command("usage")(usage)

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """Create or upgrade the schema (SQLite is also upgraded by `serve`; PostgreSQL only here)."""
    store = get_store(db, migrate_schema=True)
    console.print(f"schema ready at {store.url}")


@app.command("demo")
def demo(
    key_file: Path = typer.Option(Path("var/demo_api_key"), help="Where the demo test_mode API key is written."),
    quiet: bool = typer.Option(False, "--quiet"),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Load the demo dataset (idempotent) and make sure a demo API key exists."""
    from ..demo import seed

    store = get_store(db)
    info = seed(store)
    if not key_file.exists() or store.find_key(key_file.read_text().strip()) is None:
        token, _ = store.create_key("demo", "test_mode")
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(token + "\n")
        key_file.chmod(0o600)
    token = key_file.read_text().strip()
    if not quiet:
        console.print(f"demo data: {info['ingested']:,} new events, {info['meters']} meters, {info['customers']} customers")
    console.print(f"demo API key (test_mode), saved in {key_file}:")
    print(token)


@app.command("version")
def version():
    """Print the version."""
    print(__version__)
