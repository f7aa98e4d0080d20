"""rollups: meter_rollups and meter_distinct are WITHOUT ROWID tables on SQLite

A rollup upsert on a rowid table writes three B-trees (the table, the primary key's automatic index and
``ix_…_meter_grain_bucket``); a ``WITHOUT ROWID`` table is stored in its primary key, so a row lands in
two, and the SQLite folder holds the write lock (which every ingest waits for) that much shorter. On
SQLite each table is rebuilt: created anew with the same columns and primary key, the rows copied, the
old table dropped, the new one renamed and its index created again, all inside the migration's
transaction. Nothing changes on PostgreSQL (its tables have no rowid).

Revision ID: 1202
Revises: 1201
"""
from alembic import op
import sqlalchemy as sa

from meterbase.storage.types import ExactDecimal

revision = "1202"
down_revision = "1201"
branch_labels = None
depends_on = None

KEY = ("meter_id", "grain", "customer_id", "bucket")


def _key_columns() -> list:
    return [sa.Column("meter_id", sa.String(40), nullable=False), sa.Column("grain", sa.SmallInteger(), nullable=False),
            sa.Column("customer_id", sa.String(255), nullable=False), sa.Column("bucket", sa.BigInteger(), nullable=False)]


def _rollups_columns() -> list:
    return _key_columns() + [
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("sum", ExactDecimal(length=80), nullable=False),
        sa.Column("min", ExactDecimal(length=80), nullable=True),
        sa.Column("max", ExactDecimal(length=80), nullable=True),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_value", ExactDecimal(length=80), nullable=True),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="pk_meter_rollups"),
    ]


def _distinct_columns() -> list:
    return _key_columns() + [
        sa.Column("value", sa.String(4096), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, "value", name="pk_meter_distinct"),
    ]


TABLES = [("meter_rollups", _rollups_columns, "ix_meter_rollups_meter_grain_bucket"),
          ("meter_distinct", _distinct_columns, "ix_meter_distinct_meter_grain_bucket")]


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, columns, index in TABLES:
        new = f"{name}_1202"
        cols = columns()
        listed = ", ".join(f'"{c.name}"' for c in cols if isinstance(c, sa.Column))
        op.create_table(new, *cols, sqlite_with_rowid=with_rowid)
        op.execute(f"INSERT INTO {new} ({listed}) SELECT {listed} FROM {name}")
        op.drop_table(name)  # and its index
        op.rename_table(new, name)
        op.create_index(index, name, ["meter_id", "grain", "bucket"], unique=False)


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
