"""event store: the fold watermark, one index fewer per event

Ingest now writes only events; a folder moves them into the rollups later and advances the
``event_fold`` watermark in the same transaction (``storage.fold``). The rollups of an existing
database already hold every stored event, so each environment's watermark starts at its largest seq.
``ix_events_env_name_ts`` goes: name-only reads use ``ix_events_env_ts`` (sub-hour edges, listings)
or the seq order (the unfolded tail, backfills), per-customer reads ``ix_events_env_customer_name_ts``.

Revision ID: 0801
Revises: 0702
"""
from alembic import op
import sqlalchemy as sa

revision = "0801"
down_revision = "0702"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_fold",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment"),
    )
    op.execute("INSERT INTO event_fold (environment, last_seq, updated_at) "
               "SELECT environment, MAX(seq), 0 FROM events GROUP BY environment")
    op.drop_index("ix_events_env_name_ts", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_env_name_ts", "events", ["environment", "event_name", "ts"])
    op.drop_table("event_fold")
