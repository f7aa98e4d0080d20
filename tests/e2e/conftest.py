"""A live meterbase server in a subprocess on a random port, with API keys for both modes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from meterbase.storage import open_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    db_url: str
    test_key: str
    live_key: str
    proc: subprocess.Popen

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.test_key}"}, timeout=30)


def start_server(db_url: str, log: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "MB_DATABASE_URL": db_url, **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterbase", "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
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


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> LiveServer:
    tmp = tmp_path_factory.mktemp("live")
    db_url = f"sqlite:///{tmp}/live.db"
    store = open_store(db_url)
    test_key, _ = store.create_key("e2e", "test_mode")
    live_key, _ = store.create_key("e2e-live", "live_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log")
    yield LiveServer(url, db_url, test_key, live_key, proc)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
