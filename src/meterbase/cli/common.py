"""Shared CLI plumbing: the console, the store from ``MB_DATABASE_URL``, clean error exits.

Every command runs under :class:`FriendlyGroup` (the root Typer group): an *expected* failure — bad
input (``MeterbaseError``), an option that is not valid JSON, an unknown id, a file that cannot be
read, a database or server that cannot be reached — prints one ``error: …`` line on stderr and exits
with status 2, never a traceback. Only a bug (any other exception) still shows one.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import MeterbaseError, ValidationError
from ..storage import Store, open_store
from ..storage.engine import DEFAULT_URL

console = Console(stderr=False)
err_console = Console(stderr=True)

ENV_OPTION = typer.Option("test_mode", "--env", "-e", help="test_mode or live_mode")
DB_HELP = f"Database URL (default: $MB_DATABASE_URL, else {DEFAULT_URL}, the database `make run` serves)"


def fail(message: str, field: str | None = None) -> typer.Exit:
    """Print one error line; returns the exit to raise."""
    where = f" ({field})" if field else ""
    err_console.print(f"[red]error{where}:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def expected_error(exc: BaseException) -> typer.Exit | None:
    """The clean exit for an expected failure, or None for a bug."""
    import httpx
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, MeterbaseError):
        return fail(exc.message, exc.field)
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return fail(f"cannot use the database: {str(exc.orig).strip().splitlines()[0]}", "db")
    if isinstance(exc, httpx.TransportError):
        return fail(f"cannot reach the server: {exc}", "url")
    if isinstance(exc, OSError):
        return fail(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}")
    return None


class FriendlyGroup(typer.core.TyperGroup):
    """The root command group: expected failures of any subcommand end in one line (module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - sorted into expected failures and bugs
            clean = expected_error(exc)
            if clean is None:
                raise
            raise clean from None


@contextmanager
def friendly_errors():
    """Kept for commands that catch early (the root group catches the same errors anyway)."""
    try:
        yield
    except MeterbaseError as exc:
        raise fail(exc.message, exc.field) from None


def json_option(text: str | None, option: str) -> Any:
    """The value of a JSON option, or a one-line error naming the option."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option} is not valid JSON ({exc.msg} at character {exc.pos})",
                              option.lstrip("-")) from None


def database_url(db: str | None = None) -> str:
    return db or os.environ.get("MB_DATABASE_URL") or DEFAULT_URL


def get_store(db: str | None = None, migrate_schema: bool | None = None) -> Store:
    with friendly_errors():
        return open_store(database_url(db), migrate_schema=migrate_schema)
