"""``meterbase events``: the event store's folder, run once or in a loop, and how far behind it is.

A server folds events into rollups in a process of its own (``storage.fold_process``; ``MB_FOLD_INTERVAL``,
default 1 s). Where
servers run with ``MB_FOLD_INTERVAL=0`` (or after a bulk load), ``meterbase events fold`` catches up; usage
answers are exact either way (rollups up to the watermark plus the raw events after it). ``meterbase
events status`` shows the unfolded tail (``eventstore.status``) and ``MB_MAX_UNFOLDED`` as configured here:
the bound on it that a server's folder brings (``storage.backlog``); this command enforces none.
"""

from __future__ import annotations

import time
from typing import Optional

import typer

from ..config import Settings
from ..eventstore.status import fold_status
from .common import DB_HELP, ENV_OPTION, console, friendly_errors, get_store

app = typer.Typer(help="The event store: fold events into rollups, show the fold watermark.", no_args_is_help=True)


@app.command("fold")
def fold(db: Optional[str] = typer.Option(None, help=DB_HELP),
         loop: bool = typer.Option(False, "--loop", help="Keep folding every --interval seconds (Ctrl-C stops)."),
         interval: float = typer.Option(1.0, "--interval", min=0.05)):
    """Fold every event after the watermark into the rollups now."""
    with friendly_errors():
        store = get_store(db)
        try:
            while True:
                n = store.fold()
                console.print(f"folded {n:,} events")
                if not loop:
                    return
                time.sleep(interval)
        finally:
            store.close()


@app.command("status")
def status(env: str = ENV_OPTION, db: Optional[str] = typer.Option(None, help=DB_HELP)):
    """The fold watermark beside the latest stored seq, the tail between them, and MB_MAX_UNFOLDED."""
    with friendly_errors():
        store = get_store(db)
        try:
            w = fold_status(store, env)
        finally:
            store.close()
    console.print(f"{env}: folded up to seq {w['folded_seq']:,}; latest seq {w['latest_seq']:,}; "
                  f"unfolded {w['unfolded']:,}{' (up to date)' if not w['unfolded'] else ''}")
    bound = Settings.from_env().max_unfolded  # this command runs no folder: the bound a server here would enforce
    console.print(f"bound while a server's folder runs: {bound:,} (MB_MAX_UNFOLDED)" if bound > 0
                  else "no bound while a server's folder runs (MB_MAX_UNFOLDED=0)")
