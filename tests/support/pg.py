"""Fresh PostgreSQL databases for tests (the local server at 127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import os
import secrets

from sqlalchemy import create_engine, text

from meterbase.storage import open_store
from meterbase.storage.schema import metadata

#: Backends the suite runs storage tests on (``MB_TEST_BACKENDS``, comma-separated).
BACKENDS = [b for b in os.environ.get("MB_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_ADMIN = os.environ.get("MB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


def create_database(prefix: str = "mb_test") -> str:
    """Create a database with the current schema and return its URL."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    open_store(url, migrate_schema=True).close()  # what `meterbase db upgrade` does
    return url


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(url: str) -> None:
    """Empty every meterbase table (schema stays), so tests sharing one database start clean."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            names = [t for (t,) in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
            known = [t.name for t in metadata.sorted_tables if t.name in names]
            if known:
                conn.execute(text("TRUNCATE TABLE " + ", ".join(f'"{n}"' for n in known) + " RESTART IDENTITY"))
    finally:
        engine.dispose()


def backend_database(request, tmp, prefix: str) -> str:
    """The URL of a fresh database on ``request.param``'s backend for a module-scoped fixture: a SQLite
    file under ``tmp``, or a PostgreSQL database of its own (dropped at the end; skipped without a server)."""
    import pytest

    if request.param != "postgresql":
        return f"sqlite:///{tmp}/{prefix}.db"
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_database(prefix)
    request.addfinalizer(lambda: drop_database(url))
    return url
