"""``meterbase serve``: run the HTTP API (and dashboard) with uvicorn.

Beside the workers runs one folder process (``storage.fold_process``: events -> rollups every
``MB_FOLD_INTERVAL`` seconds, default 1; ``0`` runs none, leaving folding to ``meterbase events fold``);
the workers themselves then fold nothing. Slow clients are bounded (``api.http_server``): headers within ``--header-timeout`` (``MB_HEADER_TIMEOUT``,
10 s), idle kept-alive connections closed after 5 s, the body within ``MB_BODY_READ_TIMEOUT`` (30 s).
"""

from __future__ import annotations

import os
from typing import Optional

import typer

from .common import DB_HELP, console, database_url, fail, get_store


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    workers: int = typer.Option(1, help="uvicorn worker processes (SQLite serialises writers; see README)."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
    log_level: str = typer.Option("info"),
    header_timeout: Optional[float] = typer.Option(
        None, min=0.1, envvar="MB_HEADER_TIMEOUT", help="Seconds a client may take to send request headers (default 10)."),
):
    """Serve the API. The schema is created/upgraded first."""
    import uvicorn

    from ..api.http_server import uvicorn_settings
    from ..app import DASHBOARD_PROVIDERS
    from ..dashboard.providers import ProviderError, load

    try:
        load(DASHBOARD_PROVIDERS)  # every dashboard section wired, or no server (workers would fail anyway)
    except ProviderError as exc:
        raise fail(str(exc), "dashboard") from None
    os.environ["MB_DATABASE_URL"] = database_url(db)  # the workers' Settings read it
    if header_timeout is not None:
        os.environ["MB_HEADER_TIMEOUT"] = str(header_timeout)  # read by every worker's protocol
    get_store().close()  # applies the schema once, before workers start
    folder = _start_folder()
    console.print(f"meterbase on http://{host}:{port}  (dashboard: /ui, API docs: /docs; database "
                  f"{os.environ['MB_DATABASE_URL']})", soft_wrap=True)
    try:
        uvicorn.run("meterbase.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=False, **uvicorn_settings())
    finally:
        if folder is not None:
            folder.stop()


def _start_folder():
    """The server's one folder process (None when ``MB_FOLD_INTERVAL`` is 0); the workers fold nothing."""
    from ..config import Settings
    from ..storage.fold_process import FolderProcess

    interval = Settings.from_env().fold_interval
    os.environ["MB_FOLD_INTERVAL"] = "0"  # read by every worker's Settings: no folder thread there
    if interval <= 0:
        return None
    os.environ["MB_FOLDER_PROCESS"] = "1"  # the workers bound the unfolded tail (MB_MAX_UNFOLDED)
    return FolderProcess(os.environ["MB_DATABASE_URL"], interval).start()
