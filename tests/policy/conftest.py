"""Shared fixtures: the seed policy (tests/policy/seed_policy.yaml) loaded once per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterbase.policy import Policy, load_policy

SEED_PATH = Path(__file__).with_name("seed_policy.yaml")


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def policy(seed_text: str) -> Policy:
    return load_policy(seed_text)
