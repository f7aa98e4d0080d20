"""Fixtures for the dashboard tests: a live server on demo data, and headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from meterbase.demo import seed
from meterbase.storage import open_store
from support.server import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_or_skip() -> str:
    """/usr/bin/chromium, installing Debian's package once when missing (what `make test` does first)."""
    if not os.access(CHROMIUM, os.X_OK):
        script = ROOT / ".ci" / "ensure-chromium.sh"
        if script.exists() and shutil.which("bash"):
            subprocess.run(["bash", str(script)], check=False, timeout=900)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing and `apt-get install chromium` failed (see .ci/ensure-chromium.sh)")
    return CHROMIUM


class DemoServer:
    def __init__(self, url, db_url, test_key, live_key, proc):
        self.url, self.db_url, self.test_key, self.live_key, self.proc = url, db_url, test_key, live_key, proc

    def api(self, key: str | None = None):
        import httpx

        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.test_key}"}, timeout=30)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    db_url = f"sqlite:///{tmp}/demo.db"
    store = open_store(db_url)
    seed(store)
    test_key, _ = store.create_key("dashboard-e2e", "test_mode")
    live_key, _ = store.create_key("dashboard-e2e-live", "live_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log", {"MB_SECRET_KEY": "dashboard-tests-" + "s" * 32})
    yield DemoServer(url, db_url, test_key, live_key, proc)
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
