"""Shared plumbing for the benchmarks: results model, rich tables, JSON output, machine info,
statistics, live servers and throw-away databases (SQLite temp files, fresh PostgreSQL databases)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LATEST = RESULTS_DIR / "latest.json"
ENV = "test_mode"

#: Admin URL used to create/drop throw-away PostgreSQL databases (trust auth).
PG_ADMIN_URL = os.environ.get("MB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

NOT_AVAILABLE = "not available yet"


# -- results ----------------------------------------------------------------------------------
@dataclass
class Section:
    """One benchmark's outcome: a table (``columns`` × ``rows``) plus free-form ``details``."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    status: str = "ok"  # ok | not_available | error
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "status": self.status, "columns": self.columns,
            "rows": self.rows, "notes": self.notes, "details": self.details, "seconds": round(self.seconds, 2),
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for an empty list."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def run_threads(worker, threads: int) -> float:
    """Run ``worker(t)`` on ``threads`` threads (t = 0 … threads-1) at once; the wall-clock seconds they took."""
    ths = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    t0 = time.perf_counter()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    return time.perf_counter() - t0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def print_section(sec: Section, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title=f"{sec.title}  [{sec.status}, {sec.seconds:.0f}s]", title_justify="left", show_lines=False)
    for col in sec.columns:
        t.add_column(col, justify="left" if col in _TEXT_COLS else "right", overflow="fold")
    for row in sec.rows:
        t.add_row(*(fmt(row.get(c)) for c in sec.columns))
    console.print(t)
    for n in sec.notes:
        console.print(f"  [dim]- {n}[/dim]")


_TEXT_COLS = {"backend", "path", "query", "mode", "benchmark", "target", "verified", "status", "sizes", "meets"}


def markdown_table(sec: Section) -> str:
    lines = [f"**{sec.title}**", "", "| " + " | ".join(sec.columns) + " |", "|" + "---|" * len(sec.columns)]
    for row in sec.rows:
        lines.append("| " + " | ".join(fmt(row.get(c)) for c in sec.columns) + " |")
    for n in sec.notes:
        lines.append(f"\n_{n}_")
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


# -- machine --------------------------------------------------------------------------------
def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count()
    info = {
        "cpu": cpu, "cores": cores, "memory_gb": mem_gb, "os": platform.platform(),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "disk_tmp": shutil.disk_usage(tempfile.gettempdir()).free // 2**30,
    }
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2) as c:
            info["postgresql"] = c.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - optional
        info["postgresql"] = None
    return info


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


# -- databases --------------------------------------------------------------------------------
def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of an empty database (a new SQLite file, or a new PostgreSQL database dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:8]}.db"
        return
    import psycopg

    name = f"mb_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        from meterbase.storage import open_store

        open_store(f"{base}/{name}", migrate_schema=True).close()  # `meterbase db upgrade`
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temp_dir(prefix: str = "mb-bench-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- live server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def worker_pids(self) -> list[int]:
        """PIDs of uvicorn's worker processes (children of the supervisor), or the server itself."""
        kids: list[int] = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    stat = (p / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    kids.append(int(p.name))
        return kids or [self.proc.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(db_url: str, log: Path, workers: int = 1, extra_env: dict | None = None, timeout: float = 60) -> Server:
    """``meterbase serve --workers N`` on a random port (the production entry point), ready when /healthz answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "MB_DATABASE_URL": db_url, **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterbase", "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return Server(url, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        return False
