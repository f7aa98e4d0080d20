"""Fixtures for the SDK and blueprint tests: one live server per test module, a fake tracker."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from support.server import start_server, stop_server

from meterbase.sdk import Ingestion, Meterbase
from meterbase.sdk.blueprints import create_suggested_meters
from meterbase.storage import open_store


@dataclass
class Server:
    url: str
    test_key: str
    live_key: str

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.test_key}"}, timeout=30)

    def events(self, customer_id: str) -> list[dict]:
        """Stored events of a customer, oldest first."""
        with self.http() as c:
            r = c.get("/v1/events", params={"customer_id": customer_id, "limit": 1000})
            assert r.status_code == 200, r.text
            return list(reversed(r.json()["data"]))

    def usage(self, meter_id: str, customer_id: str) -> Decimal | None:
        now = datetime.now(timezone.utc)
        params = {"customer_id": customer_id, "from": (now - timedelta(days=2)).isoformat(),
                  "to": (now + timedelta(minutes=10)).isoformat(), "window": "month"}
        with self.http() as c:
            r = c.get(f"/v1/meters/{meter_id}/usage", params=params)
            assert r.status_code == 200, r.text
            rows = r.json()["data"]
        if not rows or rows[0]["value"] is None:
            return None
        return Decimal(rows[0]["value"])

    def ingestion(self, event_name: str | None = None, **options) -> Ingestion:
        options.setdefault("handle_signals", False)  # leave pytest's own SIGTERM behaviour alone
        return Ingestion(api_key=self.test_key, environment="test_mode", event_name=event_name, base_url=self.url,
                         **options)


def bag(items) -> list:
    """Order-insensitive comparison of dicts (events of the same millisecond have no set order)."""
    return sorted(json.dumps(i, sort_keys=True) for i in items)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    tmp = tmp_path_factory.mktemp("sdk")
    db_url = f"sqlite:///{tmp}/sdk.db"
    store = open_store(db_url)
    test_key, _ = store.create_key("sdk", "test_mode")
    live_key, _ = store.create_key("sdk-live", "live_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log")
    yield Server(url, test_key, live_key)
    stop_server(proc)


@pytest.fixture(scope="module")
def meters(server) -> dict[str, str]:
    """Every blueprint's suggested meters, created with the helper: meter name -> id.

    Time range gets three (one per duration property) so each unit can be checked.
    """
    with Meterbase(api_key=server.test_key, base_url=server.url) as client:
        out = {m["name"]: m["id"] for m, _ in create_suggested_meters(client)}
        for unit in ("seconds", "minutes"):
            [(m, created)] = create_suggested_meters(client, ["time-range"], time_unit=unit)
            assert created
            out[f"Compute time ({unit})"] = m["id"]
    return out


@dataclass
class Recorder:
    """A stand-in for Ingestion that keeps what blueprints track (exact events, no I/O)."""

    event_name: str | None = None
    calls: list[dict] = field(default_factory=list)

    def track(self, customer_id, metadata=None, *, event_name=None, **kwargs):
        self.calls.append({"customer_id": customer_id, "event_name": event_name or self.event_name,
                           "metadata": dict(metadata or {}), **kwargs})
        return f"evt_{len(self.calls)}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def arun(coro):
    """``asyncio.run`` in a fresh thread: safe even when a session fixture elsewhere in the suite
    (Playwright's sync API) keeps an event loop running in the main thread."""
    box = {}

    def target():
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def ns_clock(step_ns: int, start: int = 1_000_000_000):
    """A fake monotonic_ns clock advancing ``step_ns`` per call."""
    state = {"t": start - step_ns}

    def clock() -> int:
        state["t"] += step_ns
        return state["t"]

    return clock
