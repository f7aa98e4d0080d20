"""``meterbase sessions``: the durable reaper of live sessions, and a look at what is running.

``meterbase sessions reap --max-idle 1800`` is one pass (run it from cron or a systemd timer);
``--loop --interval 60`` keeps running. Several reapers at once are safe: each session is claimed by exactly
one of them and metered once (see :mod:`meterbase.sessions.service`).
"""

from __future__ import annotations

import time
from typing import List, Optional

import typer
from rich.table import Table

from ..sessions.core import CHARGE_UNTIL, STATUSES
from ..sessions.service import reap_all
from ..storage import sessions_repo
from ..timeutil import iso_us
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

app = typer.Typer(help="Live sessions: reap abandoned sessions, list sessions.", no_args_is_help=True)


def _pass(store, max_idle: float, envs: Optional[List[str]], charge_until: str, recover_after: float) -> int:
    results = reap_all(store, max_idle, environments=envs or None, charge_until=charge_until,
                       recover_after=recover_after)
    failures = 0
    for r in results:
        for s in r.reaped + r.recovered:
            console.print(f"{r.environment} {s.session_id} customer={s.customer_id} reaped after "
                          f"{s.seconds}s charged={s.charged} ({s.outcome_reason})")
        for sid, error in r.errors:
            failures += 1
            err_console.print(f"[red]error[/red] {r.environment} {sid}: {error}")
    reaped = sum(len(r.reaped) for r in results)
    recovered = sum(len(r.recovered) for r in results)
    skipped = sum(len(r.skipped) for r in results)
    console.print(f"reaped {reaped}, recovered {recovered}, skipped {skipped} (taken by another reaper or alive), "
                  f"errors {failures}")
    return failures


@app.command("reap")
def reap(
    max_idle: float = typer.Option(1800, "--max-idle", help="Seconds without heartbeat before a session is abandoned."),
    env: Optional[List[str]] = typer.Option(None, "--env", "-e", help="test_mode / live_mode (repeatable; default all)."),
    charge_until: str = typer.Option("now", "--charge-until",
                                     help="Charge a reaped session up to: now (seed), deadline (last heartbeat + max idle) or last_seen."),
    recover_after: float = typer.Option(60, "--recover-after", help="Finish stops left half-done for this many seconds."),
    loop: bool = typer.Option(False, "--loop", help="Keep reaping every --interval seconds."),
    interval: float = typer.Option(60, "--interval", help="Seconds between passes with --loop."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Stop and meter sessions without a heartbeat for --max-idle seconds (exactly once, even with several reapers)."""
    if charge_until not in CHARGE_UNTIL:
        err_console.print(f"[red]error (charge-until):[/red] expected one of {', '.join(CHARGE_UNTIL)}")
        raise typer.Exit(2)
    if max_idle < 0 or interval <= 0:
        err_console.print("[red]error:[/red] --max-idle must be >= 0 and --interval > 0")
        raise typer.Exit(2)
    with friendly_errors():
        store = get_store(db)
        failures = 0
        try:
            while True:
                if not loop:
                    failures = _pass(store, max_idle, env, charge_until, recover_after)
                    break
                try:
                    _pass(store, max_idle, env, charge_until, recover_after)
                except Exception as exc:  # noqa: BLE001 - a long-running reaper survives a database hiccup
                    err_console.print(f"[red]reaper pass failed[/red]: {exc}; retrying in {interval}s")
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            store.close()
    if failures:
        raise typer.Exit(1)


@app.command("list")
def list_(
    env: str = ENV_OPTION,
    customer: Optional[str] = typer.Option(None, "--customer"),
    status: Optional[str] = typer.Option(None, "--status", help="running | stopping | stopped"),
    limit: int = typer.Option(100, "--limit"),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """List sessions, newest first."""
    if status is not None and status not in STATUSES:
        err_console.print(f"[red]error (status):[/red] expected one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    with friendly_errors():
        store = get_store(db)
        with store.read() as conn:
            rows = sessions_repo.list_sessions(conn, env, customer_id=customer, status=status, limit=limit)
    table = Table("session", "customer", "entitlement", "status", "started", "last seen", "seconds", "charged")
    for r in rows:
        table.add_row(r.session_id, r.customer_id, r.entitlement, r.status, iso_us(r.started_at), iso_us(r.last_seen_at),
                      "" if r.seconds is None else str(r.seconds), "" if r.charged is None else str(r.charged))
    console.print(table)
