"""Fixtures for live sessions: the seed policy on the shared ``store`` fixture (SQLite and PostgreSQL), a FakeClock."""

from __future__ import annotations


import pytest

from meterbase.policy.service import PolicyService
from meterbase.sessions import SessionService

ENV = "test_mode"


@pytest.fixture
def policy(store, seed_text, clock) -> PolicyService:
    store.clock = clock  # what the dashboard provider and ingest see as "now"
    return PolicyService(store, seed_text, environment=ENV, clock=clock)


@pytest.fixture
def sessions(store, policy, clock) -> SessionService:
    return SessionService(store, policy, clock)


def gpu_events(store, env: str = ENV) -> list[dict]:
    return store.list_events(env, event_name="gpu_second", limit=10_000)
