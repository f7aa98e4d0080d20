"""policy engine: documents, customers, counters, idempotent allow decisions

Revision ID: 0004
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_documents",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "version", name="pk_policy_documents"),
    )
    op.create_table(
        "policy_customers",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("plan", sa.String(255), nullable=False),
        sa.Column("anchor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "customer_id", name="pk_policy_customers"),
    )
    op.create_table(
        "policy_counters",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("entitlement", sa.String(255), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=True),
        sa.Column("credit", sa.String(255), nullable=False),
        sa.Column("used", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("overage", meterbase.storage.types.ExactDecimal(length=80), nullable=False),
        sa.Column("limit_value", meterbase.storage.types.ExactDecimal(length=80), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "customer_id", "entitlement", "period_start", name="pk_policy_counters"),
    )
    op.create_table(
        "policy_allows",
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("entitlement", sa.String(255), nullable=False),
        sa.Column("amount", sa.String(255), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment", "idempotency_key", name="pk_policy_allows"),
    )


def downgrade() -> None:
    op.drop_table("policy_allows")
    op.drop_table("policy_counters")
    op.drop_table("policy_customers")
    op.drop_table("policy_documents")
