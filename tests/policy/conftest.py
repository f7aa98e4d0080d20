"""Shared fixtures: the seed policy (``seed_text`` comes from tests/conftest.py) loaded once per session."""

from __future__ import annotations

import pytest

from meterbase.policy import Policy, load_policy

@pytest.fixture(scope="session")
def policy(seed_text: str) -> Policy:
    return load_policy(seed_text)
