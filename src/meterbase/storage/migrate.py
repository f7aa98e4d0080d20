"""Schema migrations: apply Alembic revisions up to head on a Store's database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

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


def revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a new revision against ``engine``'s current schema."""
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)
