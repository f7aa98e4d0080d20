"""merge the event store (0801) and aggregation parameters (0901) branches

Revision ID: 0802
Revises: 0801, 0901
"""

revision = "0802"
down_revision = ("0801", "0901")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
