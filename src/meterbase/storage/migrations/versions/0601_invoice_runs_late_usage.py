"""invoicing: invoice runs and their skipped periods, carry-forward adjustments, grace periods

``billing_runs`` and ``billing_run_skips`` record what each invoice run did and the periods it could
not price; ``billing_adjustments`` holds late usage of finalized periods billed on later invoices;
products and subscriptions gain ``grace_period_hours`` (NULL: the default).

Revision ID: 0601
Revises: 0201
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0601"
down_revision = "0201"
branch_labels = None
depends_on = None

Dec = meterbase.storage.types.ExactDecimal


def upgrade() -> None:
    with op.batch_alter_table("billing_products") as batch:
        batch.add_column(sa.Column("grace_period_hours", sa.Integer(), nullable=True))
    with op.batch_alter_table("billing_subscriptions") as batch:
        batch.add_column(sa.Column("grace_period_hours", sa.Integer(), nullable=True))
    op.create_table(
        "billing_runs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.Column("finalize", sa.String(16), nullable=False),
        sa.Column("lookback_days", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("existing", sa.Integer(), nullable=False),
        sa.Column("finalized", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("adjustments", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_billing_runs_env_started", "billing_runs", ["environment", "started_at"])
    op.create_table(
        "billing_run_skips",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("meter_id", sa.String(40), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "subscription_id", "period_start", "kind", name="pk_billing_run_skips"),
    )
    op.create_index("ix_billing_run_skips_open", "billing_run_skips", ["environment", "resolved_at"])
    op.create_index("ix_billing_run_skips_sub", "billing_run_skips", ["subscription_id", "period_start"])
    op.create_table(
        "billing_adjustments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("meter_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("adjusts_invoice_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("covers", sa.Text(), nullable=False),
        sa.Column("quantity_before", Dec(), nullable=False),
        sa.Column("quantity_after", Dec(), nullable=False),
        sa.Column("free_units", Dec(), nullable=False),
        sa.Column("billable_units", Dec(), nullable=False),
        sa.Column("amount", Dec(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "period_start", "meter_id", "version",
                            name="uq_billing_adjustments_version"),
    )
    op.create_index("ix_billing_adjustments_env_sub", "billing_adjustments", ["environment", "subscription_id"])
    op.create_index("ix_billing_adjustments_invoice", "billing_adjustments", ["invoice_id"])


def downgrade() -> None:
    op.drop_table("billing_adjustments")
    op.drop_table("billing_run_skips")
    op.drop_table("billing_runs")
    with op.batch_alter_table("billing_subscriptions") as batch:
        batch.drop_column("grace_period_hours")
    with op.batch_alter_table("billing_products") as batch:
        batch.drop_column("grace_period_hours")
