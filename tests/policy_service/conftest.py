"""Fixtures for the durable policy engine: the seed policy, an injectable clock, SQLite and PostgreSQL stores."""

from __future__ import annotations

import secrets

import pytest

from meterbase.policy.service import PolicyService
from meterbase.storage import open_store



@pytest.fixture
def backend_store(backend, tmp_path, clock, request):
    """A Store on SQLite (fresh file) or PostgreSQL (session database) with the fake clock.

    Tests isolate themselves with a fresh environment name (``env`` fixture), so one PostgreSQL
    database serves the whole session.
    """
    url = f"sqlite:///{tmp_path}/policy.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(url, clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def env() -> str:
    return f"t_{secrets.token_hex(6)}"


@pytest.fixture
def svc(backend_store, seed_text, env) -> PolicyService:
    return PolicyService(backend_store, seed_text, environment=env)


class Recorder:
    """A handler that remembers ``(event_key, payload_dict)`` calls."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, key: str, value: str) -> None:
        import json

        self.calls.append((key, json.loads(value)))

    def of(self, key: str) -> list[dict]:
        return [payload for k, payload in self.calls if k == key]


@pytest.fixture
def recorder(svc) -> Recorder:
    rec = Recorder()
    svc.add_handler("test", rec)
    return rec
