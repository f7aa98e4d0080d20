"""Shared CLI plumbing: the console, the store from ``MB_DATABASE_URL``, clean error exits."""

from __future__ import annotations

import os
from contextlib import contextmanager

import typer
from rich.console import Console

from ..errors import MeterbaseError
from ..storage import Store, open_store

console = Console(stderr=False)
err_console = Console(stderr=True)

ENV_OPTION = typer.Option("test_mode", "--env", "-e", help="test_mode or live_mode")
DB_HELP = "Database URL (default: $MB_DATABASE_URL or sqlite:///meterbase.db)"


@contextmanager
def friendly_errors():
    try:
        yield
    except MeterbaseError as exc:
        where = f" ({exc.field})" if exc.field else ""
        err_console.print(f"[red]error{where}:[/red] {exc.message}")
        raise typer.Exit(2) from None


def get_store(db: str | None = None, migrate_schema: bool | None = None) -> Store:
    with friendly_errors():
        return open_store(db or os.environ.get("MB_DATABASE_URL"), migrate_schema=migrate_schema)
