"""A live ``meterbase serve`` subprocess on a random port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, log: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start the server on ``db_url``; returns ``(process, base_url)`` once /healthz answers."""
    port = free_port()
    env = {**os.environ, "MB_DATABASE_URL": db_url, **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterbase", "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
