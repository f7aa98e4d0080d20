"""credits wired in: products issue credits, a covering entitlement for allow(), exact accruals of deductions

``billing_products.credits`` (JSON, NULL: none) lists the credit entitlements a product issues per cycle.
``credit_entitlements.covers_policy_usage`` marks the environment's money credit whose balances pay for the
priced usage of the policy engine's ``allow()``. ``credit_accruals`` keeps, per balance and source (the
policy engine, or one meter), the exact quantity deducted so far, so deductions that are finer than the
entitlement's precision are never rounded away: credits are deducted as the running total crosses whole
quanta.

Revision ID: 0701
Revises: 0201
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0701"
down_revision = "0601"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("billing_products") as batch:
        batch.add_column(sa.Column("credits", sa.Text(), nullable=True))
    with op.batch_alter_table("credit_entitlements") as batch:
        batch.add_column(sa.Column("covers_policy_usage", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "credit_accruals",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("entitlement_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("divisor", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("total", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("deducted", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "entitlement_id", "customer_id", "source", name="pk_credit_accruals"),
    )


def downgrade() -> None:
    op.drop_table("credit_accruals")
    with op.batch_alter_table("credit_entitlements") as batch:
        batch.drop_column("covers_policy_usage")
    with op.batch_alter_table("billing_products") as batch:
        batch.drop_column("credits")
