"""events: the latest seq of an environment in one index probe

``latest_seq`` (the folder's "anything to fold?" every round, the fold lag of ``/v1/events/fold``, the high
water on PostgreSQL) read ``MAX(seq) … WHERE environment = ?`` through ``ix_events_env_ts``: every index
entry of the environment (35 ms at 500k events, seconds at tens of millions). ``(environment, seq)`` answers
it from the end of the environment's run; its entries are appended in seq order, so ingest adds little.

Revision ID: 1202
Revises: 1201
"""
from alembic import op

revision = "1202"
down_revision = "1201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_env_seq", "events", ["environment", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_env_seq", table_name="events")
