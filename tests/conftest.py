"""Shared fixtures for the meterbase test-suite."""

from __future__ import annotations

import pytest

from meterbase.storage import open_store


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite-backed Store in a temporary directory (schema created)."""
    s = open_store(f"sqlite:///{tmp_path}/mb.db")
    try:
        yield s
    finally:
        s.close()
