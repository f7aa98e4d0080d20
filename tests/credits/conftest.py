"""Credits test fixtures: a CreditService on each backend with the fake clock, an in-process API client, and
the live server of the end-to-end tests (for the official SDK)."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from e2e.conftest import live_server  # noqa: F401 - the live server fixture, shared
from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.credits.service import CreditService
from meterbase.storage import open_store


@pytest.fixture
def credit_store(backend, tmp_path, clock, request):
    """A Store with the fake clock: a fresh SQLite file, or the session's PostgreSQL database (tests isolate
    themselves with a fresh environment name)."""
    url = f"sqlite:///{tmp_path}/credits.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(url, clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def env() -> str:
    return f"t_{secrets.token_hex(6)}"


@pytest.fixture
def credits(credit_store, env) -> CreditService:
    return CreditService(credit_store, env, business_id="bus_test")


@pytest.fixture
def http(store):
    """An in-process API client with a test_mode key (the ``store`` fixture: a fresh database per test)."""
    token, _ = store.create_key("credits", "test_mode")
    app = create_app(store, Settings(database_url=store.url, rate_limit_rps=0))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})
