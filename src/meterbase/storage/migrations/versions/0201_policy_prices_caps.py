"""policy: priced allow() totals on counters, spend-cap counters

Counters gain the sums of their period's call prices (``price``: list price of billable units, ``overage_price``:
what to bill, ``cost``: overhead). Existing counters keep NULL there: their overage is priced from the credit's
curve when billed. ``policy_caps`` holds what each customer spent against each of their plan's spend caps.

Revision ID: 0201
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0201"
down_revision = "0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_counters") as batch:
        batch.add_column(sa.Column("price", meterbase.storage.types.ExactDecimal(length=80), nullable=True))
        batch.add_column(sa.Column("overage_price", meterbase.storage.types.ExactDecimal(length=80), nullable=True))
        batch.add_column(sa.Column("cost", meterbase.storage.types.ExactDecimal(length=80), nullable=True))
    op.create_table(
        "policy_caps",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("cap", sa.String(255), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=True),
        sa.Column("spent", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "customer_id", "cap", "period_start", name="pk_policy_caps"),
    )


def downgrade() -> None:
    op.drop_table("policy_caps")
    with op.batch_alter_table("policy_counters") as batch:
        batch.drop_column("cost")
        batch.drop_column("overage_price")
        batch.drop_column("price")
