"""credit feed: the watermark of metered credit deductions

Events of meters paid with credits deduct their credits in transactions that also advance this watermark
(``credits.metered``), so a crash between an event and its deduction loses or doubles nothing.

Revision ID: 0702
Revises: 0701
"""
from alembic import op
import sqlalchemy as sa

revision = "0702"
down_revision = "0701"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_feed",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment"),
    )


def downgrade() -> None:
    op.drop_table("credit_feed")
