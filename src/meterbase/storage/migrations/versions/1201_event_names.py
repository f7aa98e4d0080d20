"""event store: the names of the folded events, per environment

The dashboard's list of event names read ``DISTINCT event_name`` over all of an environment's events
once ``ix_events_env_name_ts`` was gone (0801). ``event_names`` holds them instead: the folder adds the
names of each chunk in the transaction that folds it; readers add the names of the unfolded tail.
Existing databases start with the names of every stored event.

Revision ID: 1201
Revises: 0802
"""
from alembic import op
import sqlalchemy as sa

revision = "1201"
down_revision = "0802"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_names",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("environment", "event_name", name="pk_event_names"),
    )
    op.execute("INSERT INTO event_names (environment, event_name) SELECT DISTINCT environment, event_name FROM events")


def downgrade() -> None:
    op.drop_table("event_names")
