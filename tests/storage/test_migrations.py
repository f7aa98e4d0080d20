"""Schema management: SQLite migrates itself; PostgreSQL only on demand (`meterbase db upgrade`)."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy
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
    empty database: other tests share the run's one); on SQLite the tables declared ``WITHOUT ROWID``
    (``sqlite_with_rowid=False``) are so (not compared above)."""
    from meterbase.storage.schema import metadata

    url = f"sqlite:///{tmp_path}/m.db" if backend == "sqlite" else request.getfixturevalue("empty_pg_url")
    store = open_store(url, migrate_schema=True)
    try:
        assert _schema_diffs(store.write_engine) == []
        if backend == "sqlite":
            with store.read() as conn:
                sql = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
            declared = {t.name for t in metadata.tables.values() if t.dialect_options["sqlite"]["with_rowid"] is False}
            assert declared >= {"meter_rollups", "meter_distinct"}
            assert {name for name, text in sql.items() if text.rstrip().endswith("WITHOUT ROWID")} == declared
    finally:
        store.close()


def test_1202_rebuilds_the_rollup_tables_without_rowid_keeping_their_rows(tmp_path):
    """SQLite: rows of 1201's rowid tables are all there after 1202 (and after going back down)."""
    from meterbase.storage import migrate
    from meterbase.storage.engine import make_engines

    write_engine, _read = make_engines(f"sqlite:///{tmp_path}/m.db")
    migrate.upgrade(write_engine, "1201")
    rollup = ("m1", 0, "c1", 3_600_000_000, 3, 2, "7.5", "1", "6.5", 10, 11, "6.5", 1)
    with write_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO meter_rollups VALUES (" + ", ".join("?" * len(rollup)) + ")", rollup)
        conn.exec_driver_sql("INSERT INTO meter_distinct VALUES (?, ?, ?, ?, ?)", ("m2", 1, "c1", 0, "v"))

    def state():
        with write_engine.connect() as conn:
            tables = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
            indexes = {n for (n,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('meter_rollups', 'meter_distinct') "
                "AND name NOT LIKE 'sqlite_autoindex%'")}
            rows = (conn.exec_driver_sql("SELECT * FROM meter_rollups").all(),
                    conn.exec_driver_sql("SELECT * FROM meter_distinct").all())
        without_rowid = {t for t in ("meter_rollups", "meter_distinct") if "WITHOUT ROWID" in tables[t]}
        return without_rowid, indexes, rows

    rows = ([rollup], [("m2", 1, "c1", 0, "v")])
    indexes = {"ix_meter_rollups_meter_grain_bucket", "ix_meter_distinct_meter_grain_bucket"}
    assert state() == (set(), indexes, rows)
    migrate.upgrade(write_engine, "1202")
    assert state() == ({"meter_rollups", "meter_distinct"}, indexes, rows)
    assert not any(name.endswith("_1202") for name in sqlalchemy.inspect(write_engine).get_table_names())
    with write_engine.begin() as conn:
        from alembic import command

        command.downgrade(migrate.alembic_config(conn), "1201")
    assert state() == (set(), indexes, rows)
    write_engine.dispose()
