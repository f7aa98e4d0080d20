"""dashboard: revoked session ids (logout ends the session server-side)

Revision ID: 0501
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0501"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_revoked_sessions",
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_revoked_sessions")
