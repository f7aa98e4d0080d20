"""live sessions: start/heartbeat/stop state, durable for the reaper

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_sessions",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("entitlement", sa.String(255), nullable=False),
        sa.Column("access_entitlement", sa.String(255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("heartbeats", sa.Integer(), nullable=False),
        sa.Column("stop_reason", sa.String(16), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.String(64), nullable=True),
        sa.Column("capped_amount", sa.String(80), nullable=True),
        sa.Column("charged", meterbase.storage.types.ExactDecimal(length=80), nullable=True),
        sa.Column("outcome_reason", sa.String(32), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("metered_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "session_id", name="pk_live_sessions"),
    )
    op.create_index("ix_live_sessions_status_seen", "live_sessions", ["status", "last_seen_at"])
    op.create_index("ix_live_sessions_env_customer", "live_sessions", ["environment", "customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_live_sessions_env_customer", table_name="live_sessions")
    op.drop_index("ix_live_sessions_status_seen", table_name="live_sessions")
    op.drop_table("live_sessions")
