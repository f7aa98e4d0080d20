"""Schema migrations: apply Alembic revisions up to head on a Store's database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from ..errors import MeterbaseError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Idempotent; concurrent callers (several workers starting at once) serialise on a lock:
    SQLite's write engine opens ``BEGIN IMMEDIATE``, PostgreSQL takes an advisory lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        command.upgrade(alembic_config(conn), revision)


class SchemaOutOfDate(MeterbaseError):
    status = 503
    code = "schema_out_of_date"


def pending(engine: Engine) -> bool:
    """True when the database is not at the latest revision."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current != heads


def ensure_current(engine: Engine) -> None:
    if pending(engine):
        raise SchemaOutOfDate(
            "the database schema is not at the latest revision: run `meterbase db upgrade` "
            "(PostgreSQL schemas are upgraded on demand, not when the server starts)"
        )


def revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a new revision against ``engine``'s current schema."""
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)
