"""A live meterbase server in a subprocess on a random port, with API keys for both modes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import httpx
import pytest

from meterbase.storage import open_store
from support.pg import BACKENDS, backend_database
from support.server import start_server, stop_server

__all__ = ["LiveServer", "live_server", "start_server", "stop_server"]


@dataclass
class LiveServer:
    url: str
    db_url: str
    test_key: str
    live_key: str
    proc: subprocess.Popen

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.test_key}"}, timeout=30)


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request, tmp_path_factory) -> LiveServer:
    """The server on each backend under test (PostgreSQL: a database of its own, dropped after)."""
    tmp = tmp_path_factory.mktemp("live")
    db_url = backend_database(request, tmp, "mb_e2e")
    store = open_store(db_url)
    test_key, _ = store.create_key("e2e", "test_mode")
    live_key, _ = store.create_key("e2e-live", "live_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log")
    yield LiveServer(url, db_url, test_key, live_key, proc)
    stop_server(proc)
