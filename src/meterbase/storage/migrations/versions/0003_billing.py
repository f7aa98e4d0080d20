"""billing: customers, products, subscriptions, plan segments, invoices, invoice lines, threshold hits

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Dec = meterbase.storage.types.ExactDecimal


def upgrade() -> None:
    op.create_table(
        "billing_customers",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("phone_number", sa.String(64), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "id", name="pk_billing_customers"),
    )
    op.create_index("ix_billing_customers_env_created", "billing_customers", ["environment", "created_at"])
    op.create_table(
        "billing_products",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fixed_fee", Dec(), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("tax_category", sa.String(32), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_billing_products_env_created", "billing_products", ["environment", "created_at"])
    op.create_table(
        "billing_subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.BigInteger(), nullable=False),
        sa.Column("anchor_at", sa.BigInteger(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=True),
        sa.Column("thresholds", sa.Text(), nullable=False),
        sa.Column("billing", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_billing_subscriptions_env_customer", "billing_subscriptions", ["environment", "customer_id"])
    op.create_index("ix_billing_subscriptions_env_created", "billing_subscriptions", ["environment", "created_at"])
    op.create_table(
        "billing_plan_segments",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("effective_at", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "effective_at", name="pk_billing_plan_segments"),
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", Dec(), nullable=False),
        sa.Column("total", Dec(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finalized_at", sa.BigInteger(), nullable=True),
        sa.Column("voided_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("subscription_id", "period_start", name="uq_billing_invoices_sub_period"),
    )
    op.create_index("ix_billing_invoices_env_customer", "billing_invoices", ["environment", "customer_id"])
    op.create_index("ix_billing_invoices_env_created", "billing_invoices", ["environment", "created_at"])
    op.create_table(
        "billing_invoice_lines",
        sa.Column("invoice_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("meter_id", sa.String(40), nullable=True),
        sa.Column("start_at", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", Dec(), nullable=False),
        sa.Column("free_units", Dec(), nullable=False),
        sa.Column("billable_units", Dec(), nullable=False),
        sa.Column("unit_price", Dec(), nullable=True),
        sa.Column("amount", Dec(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "position", name="pk_billing_invoice_lines"),
    )
    op.create_table(
        "billing_threshold_hits",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.String(300), nullable=False),
        sa.Column("hit_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "period_start", "threshold", name="pk_billing_threshold_hits"),
    )


def downgrade() -> None:
    op.drop_table("billing_threshold_hits")
    op.drop_table("billing_invoice_lines")
    op.drop_index("ix_billing_invoices_env_created", "billing_invoices")
    op.drop_index("ix_billing_invoices_env_customer", "billing_invoices")
    op.drop_table("billing_invoices")
    op.drop_table("billing_plan_segments")
    op.drop_index("ix_billing_subscriptions_env_created", "billing_subscriptions")
    op.drop_index("ix_billing_subscriptions_env_customer", "billing_subscriptions")
    op.drop_table("billing_subscriptions")
    op.drop_index("ix_billing_products_env_created", "billing_products")
    op.drop_table("billing_products")
    op.drop_index("ix_billing_customers_env_created", "billing_customers")
    op.drop_table("billing_customers")
