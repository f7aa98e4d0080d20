"""Schema management: SQLite migrates itself; PostgreSQL only on demand (`meterbase db upgrade`)."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from meterbase.cli.main import app
from meterbase.storage import open_store
from meterbase.storage.migrate import SchemaOutOfDate, pending
from support.pg import PG_ADMIN, drop_database, pg_available


def test_sqlite_is_migrated_on_open(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    assert not pending(store.write_engine)
    store.close()


@pytest.fixture()
def empty_pg_url():
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = "mb_empty_" + __import__("secrets").token_hex(4)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    yield url
    drop_database(url)


def test_postgresql_is_upgraded_on_demand_only(empty_pg_url):
    with pytest.raises(SchemaOutOfDate, match="meterbase db upgrade"):
        open_store(empty_pg_url)
    serve = CliRunner().invoke(app, ["keys", "list", "--db", empty_pg_url])
    assert serve.exit_code == 2 and "meterbase db upgrade" in " ".join(serve.output.split())

    result = CliRunner().invoke(app, ["db", "upgrade", "--db", empty_pg_url])
    assert result.exit_code == 0, result.output
    store = open_store(empty_pg_url)
    assert not pending(store.write_engine)
    store.close()


def _schema_diffs(engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from meterbase.storage.schema import metadata

    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def test_migrated_schema_is_the_declared_schema(backend, tmp_path, request):
    """The migrations build exactly the tables, columns, types and indexes ``schema.py`` declares (in an
    empty database: other tests share the run's one)."""
    url = f"sqlite:///{tmp_path}/m.db" if backend == "sqlite" else request.getfixturevalue("empty_pg_url")
    store = open_store(url, migrate_schema=True)
    try:
        assert _schema_diffs(store.write_engine) == []
    finally:
        store.close()
