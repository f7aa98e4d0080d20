"""Shared fixtures: a fresh Store on every backend under test.

``MB_TEST_BACKENDS`` (default ``sqlite,postgresql``) picks the backends. PostgreSQL tests use one
fresh database per test run (created here, dropped at the end) and empty it before each test;
they are skipped, with the reason, only when no server answers at 127.0.0.1:5432.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# CLI output (rich tables) is as wide as the terminal: a fixed width makes it the same with or without a tty
# and under pytest-xdist workers.
os.environ["COLUMNS"] = "200"

from meterbase.storage import open_store
from support.clock import FakeClock
from support.pg import BACKENDS, create_database, drop_database, pg_available, truncate_all


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test run."""
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (.ci/services.sh starts it)")
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def fresh_store_url(backend, tmp_path, request):
    """Returns a function giving the URL of an empty database on this test's backend."""
    counter = iter(range(1_000_000))

    def make() -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/mb{next(counter)}.db"
        url = request.getfixturevalue("pg_url")
        truncate_all(url)
        return url

    return make


@pytest.fixture
def store(fresh_store_url):
    """A fresh Store (schema applied) on the backend under test."""
    s = open_store(fresh_store_url())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def seed_text() -> str:
    """Seed 004's policy document, verbatim."""
    return (Path(__file__).parent / "policy" / "seed_policy.yaml").read_text(encoding="utf-8")


@pytest.fixture
def clock() -> FakeClock:
    """A settable clock starting 2025-01-01T12:00Z."""
    return FakeClock()
