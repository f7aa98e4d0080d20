"""``meterbase ingest FILE.jsonl``: batched, resumable bulk ingestion with a progress bar.

Events go to a server over HTTP when an API key is given (``--api-key`` or ``$MB_API_KEY``),
otherwise straight into the local database. After every acknowledged batch the byte offset is
saved in ``FILE.jsonl.mbprogress``; a re-run resumes there (and event ids make any overlap a
no-op anyway).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import httpx
import orjson
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..errors import ValidationError
from ..events.model import MAX_BATCH
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store


class HttpSink:
    def __init__(self, url: str, api_key: str, retries: int = 5):
        self.client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        self.retries = retries

    def send(self, events: list) -> dict:
        body = orjson.dumps({"events": events})
        for attempt in range(self.retries + 1):
            try:
                r = self.client.post("/v1/events/ingest", content=body, headers={"Content-Type": "application/json"})
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                time.sleep(min(8, 0.5 * 2**attempt))
                continue
            if r.status_code < 500 and r.status_code != 429:
                if r.status_code >= 400:
                    data = r.json()
                    raise ValidationError(data.get("message", r.text), data.get("field"))
                return r.json()
            if attempt == self.retries:
                r.raise_for_status()
            time.sleep(min(8, 0.5 * 2**attempt))
        raise RuntimeError("unreachable")


class StoreSink:
    def __init__(self, db: str | None, env: str):
        self.store, self.env = get_store(db), env

    def send(self, events: list) -> dict:
        return self.store.ingest(self.env, events).to_dict()


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines file, one event per line."),
    env: str = ENV_OPTION,
    batch_size: int = typer.Option(MAX_BATCH, min=1, max=MAX_BATCH),
    url: str = typer.Option("http://127.0.0.1:8080", help="Server URL (with --api-key)."),
    api_key: Optional[str] = typer.Option(None, envvar="MB_API_KEY", help="Send over HTTP with this key."),
    restart: bool = typer.Option(False, help="Ignore the saved progress and start from the top."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Ingest events from a JSONL file."""
    checkpoint = file.with_name(file.name + ".mbprogress")
    offset = 0 if restart or not checkpoint.exists() else int(checkpoint.read_text().strip() or 0)
    size = file.stat().st_size
    sink = HttpSink(url, api_key) if api_key else StoreSink(db, env)
    totals = {"ingested_count": 0, "duplicate_count": 0, "conflict_count": 0}
    if offset:
        console.print(f"resuming at byte {offset:,} of {size:,} ({checkpoint.name})")

    with open(file, "rb") as fh, friendly_errors(), Progress(
        TextColumn("[bold]ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[events]:,} events"), console=err_console,
    ) as progress:
        task = progress.add_task("ingest", total=size, completed=offset, events=0)
        fh.seek(offset)
        batch: list = []
        lineno, sent = 0, 0

        def flush(pos: int) -> None:
            nonlocal batch, sent
            if not batch:
                return
            result = sink.send(batch)
            for k in totals:
                totals[k] += result.get(k, 0)
            sent += len(batch)
            batch = []
            checkpoint.write_text(str(pos))
            progress.update(task, completed=pos, events=sent)

        while True:
            line = fh.readline()
            if not line:
                break
            lineno += 1
            if not line.strip():
                continue
            try:
                batch.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ValidationError(f"line {lineno} after offset {offset} is not JSON: {exc}", "file") from None
            if len(batch) >= batch_size:
                flush(fh.tell())
        flush(fh.tell())
    checkpoint.unlink(missing_ok=True)
    console.print(
        f"[green]done[/green]: {totals['ingested_count']:,} ingested, {totals['duplicate_count']:,} duplicates, "
        f"{totals['conflict_count']:,} conflicts"
    )
