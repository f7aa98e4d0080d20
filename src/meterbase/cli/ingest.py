"""``meterbase ingest FILE.jsonl``: batched, resumable bulk ingestion with a progress bar.

Events go to a server over HTTP when an API key is given (``--api-key`` or ``$MB_API_KEY``; the
server is ``--url`` or ``$MB_URL``), otherwise straight into the local database.

After every acknowledged batch a checkpoint is saved in ``FILE.jsonl.mbprogress``: the byte offset
reached, the file's size and mtime, and a BLAKE2b hash of the bytes before the offset. A re-run
resumes at the offset only when the file still starts with exactly those bytes; a different file
under the same name (rewritten, truncated, or an old checkpoint format) starts again from the top,
which is safe because event ids make every re-sent event a duplicate, never a second copy.

Expected failures -- the server unreachable, a refused key, a bad line -- print one line and exit 2.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Optional

import httpx
import orjson
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..errors import MeterbaseError, ValidationError
from ..events.model import MAX_BATCH
from .common import DB_HELP, ENV_OPTION, console, err_console, friendly_errors, get_store

_HASH_CHUNK = 1 << 20


class IngestFailed(MeterbaseError):
    code = "ingest_failed"


def _prefix_hasher():
    return hashlib.blake2b(digest_size=20)


class Checkpoint:
    """The resumption point of one file, valid only for a file that still begins with the same bytes."""

    def __init__(self, file: Path):
        self.file, self.path = file, file.with_name(file.name + ".mbprogress")

    def load(self) -> tuple[int, "hashlib._Hash", str | None]:
        """``(offset, hasher of the bytes before it, why the saved point was not used)``."""
        hasher = _prefix_hasher()
        if not self.path.exists():
            return 0, hasher, None
        try:
            saved = orjson.loads(self.path.read_bytes())
            offset, digest = int(saved["offset"]), str(saved["prefix_blake2b"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 0, hasher, "the saved progress is not in the current format"
        stat = self.file.stat()
        if stat.st_size < offset:
            return 0, hasher, f"the file is shorter ({stat.st_size:,} bytes) than the saved offset ({offset:,})"
        with open(self.file, "rb") as fh:
            left = offset
            while left:
                chunk = fh.read(min(_HASH_CHUNK, left))
                if not chunk:
                    break
                hasher.update(chunk)
                left -= len(chunk)
        if hasher.hexdigest() != digest:
            return 0, _prefix_hasher(), "the file's first bytes changed since the saved progress (another file?)"
        return offset, hasher, None

    def save(self, offset: int, hasher) -> None:
        stat = self.file.stat()
        data = {"offset": offset, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "prefix_blake2b": hasher.hexdigest()}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(data))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _message(r: httpx.Response) -> tuple[str, str | None]:
    try:
        data = r.json()
        return str(data.get("message") or r.text), data.get("field")
    except ValueError:
        return f"HTTP {r.status_code}: {r.text[:200]}", None


class HttpSink:
    def __init__(self, url: str, api_key: str, retries: int = 5):
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        self.retries = retries

    def send(self, events: list) -> dict:
        body = orjson.dumps({"events": events})
        for attempt in range(self.retries + 1):
            try:
                r = self.client.post("/v1/events/ingest", content=body, headers={"Content-Type": "application/json"})
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise IngestFailed(f"cannot reach meterbase at {self.url} ({type(exc).__name__}: {exc}); "
                                       "check --url / MB_URL", "url") from None
                time.sleep(min(8, 0.5 * 2**attempt))
                continue
            if r.status_code < 500 and r.status_code != 429:
                if r.status_code in (401, 403):
                    message, _ = _message(r)
                    raise IngestFailed(f"{self.url} refused the API key: {message}", "api_key")
                if r.status_code >= 400:
                    message, field = _message(r)
                    raise ValidationError(message, field)
                try:
                    return r.json()
                except ValueError:
                    raise IngestFailed(f"{self.url} is not a meterbase server (answer is not JSON)", "url") from None
            if attempt == self.retries:
                message, _ = _message(r)
                raise IngestFailed(f"{self.url} answered {r.status_code} after {self.retries + 1} attempts: {message}")
            time.sleep(min(8, 0.5 * 2**attempt))
        raise RuntimeError("unreachable")


class StoreSink:
    def __init__(self, db: str | None, env: str):
        self.store, self.env = get_store(db), env

    def send(self, events: list) -> dict:
        return self.store.ingest(self.env, events).to_dict()

    def finish(self) -> None:
        """Fold what was loaded into the rollups (no server folder may be running on this database)."""
        self.store.fold()


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines file, one event per line."),
    env: str = ENV_OPTION,
    batch_size: int = typer.Option(MAX_BATCH, min=1, max=MAX_BATCH),
    url: str = typer.Option("http://127.0.0.1:8080", envvar="MB_URL", help="Server URL (with --api-key)."),
    api_key: Optional[str] = typer.Option(None, envvar="MB_API_KEY", help="Send over HTTP with this key."),
    restart: bool = typer.Option(False, help="Ignore the saved progress and start from the top."),
    retries: int = typer.Option(5, min=0, help="Retries of a batch the server could not take (backoff 0.5 s … 8 s)."),
    db: Optional[str] = typer.Option(None, help=DB_HELP),
):
    """Ingest events from a JSONL file."""
    checkpoint = Checkpoint(file)
    offset, hasher, why = (0, _prefix_hasher(), None) if restart else checkpoint.load()
    size = file.stat().st_size
    totals = {"ingested_count": 0, "duplicate_count": 0, "conflict_count": 0}
    if why:
        console.print(f"starting from the top: {why} ({checkpoint.path.name}); re-sent events count as duplicates")
    elif offset:
        console.print(f"resuming at byte {offset:,} of {size:,} ({checkpoint.path.name})")

    with friendly_errors(), open(file, "rb") as fh, Progress(
        TextColumn("[bold]ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[events]:,} events"), console=err_console,
    ) as progress:
        sink = HttpSink(url, api_key, retries) if api_key else StoreSink(db, env)
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
            checkpoint.save(pos, hasher)
            progress.update(task, completed=pos, events=sent)

        while True:
            line = fh.readline()
            if not line:
                break
            hasher.update(line)
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
        if isinstance(sink, StoreSink):
            sink.finish()
    checkpoint.clear()
    console.print(
        f"[green]done[/green]: {totals['ingested_count']:,} ingested, {totals['duplicate_count']:,} duplicates, "
        f"{totals['conflict_count']:,} conflicts"
    )
