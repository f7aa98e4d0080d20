"""meters.aggregation_params: the extra parameters of a meter's aggregation (time_weighted mode and per)

Revision ID: 0901
Revises: 0702
"""
from alembic import op
import sqlalchemy as sa

revision = "0901"
down_revision = "0702"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meters") as batch:
        batch.add_column(sa.Column("aggregation_params", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meters") as batch:
        batch.drop_column("aggregation_params")
