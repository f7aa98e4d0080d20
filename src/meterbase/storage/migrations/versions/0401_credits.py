"""credits: entitlements, balances, grants, ledger, customer wallets and their ledger

Revision ID: 0401
Revises: 0008
Create Date: 2026-12-01 10:17:32.487414
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types


revision = '0401'
down_revision = '0501'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_balances',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('entitlement_id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('balance', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('overage', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('threshold_base', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('schedule', sa.Text(), nullable=True),
    sa.Column('settled_until', sa.BigInteger(), nullable=True),
    sa.Column('issued_cycle', sa.BigInteger(), nullable=True),
    sa.Column('next_event_at', sa.BigInteger(), nullable=True),
    sa.Column('last_transaction_at', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('environment', 'entitlement_id', 'customer_id', name='uq_credit_balances_key')
    )
    with op.batch_alter_table('credit_balances', schema=None) as batch_op:
        batch_op.create_index('ix_credit_balances_env_customer', ['environment', 'customer_id'], unique=False)
        batch_op.create_index('ix_credit_balances_next_event', ['next_event_at'], unique=False)

    op.create_table('credit_entitlements',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=False),
    sa.Column('precision', sa.SmallInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('price_per_unit', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('expires_after_days', sa.Integer(), nullable=True),
    sa.Column('rollover_enabled', sa.Boolean(), nullable=False),
    sa.Column('rollover_percentage', sa.SmallInteger(), nullable=True),
    sa.Column('rollover_timeframe_count', sa.Integer(), nullable=True),
    sa.Column('rollover_timeframe_interval', sa.String(length=8), nullable=True),
    sa.Column('max_rollover_count', sa.Integer(), nullable=True),
    sa.Column('overage_enabled', sa.Boolean(), nullable=False),
    sa.Column('overage_limit', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('overage_behavior', sa.String(length=32), nullable=False),
    sa.Column('low_balance_threshold_percent', sa.SmallInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('deleted_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('credit_entitlements', schema=None) as batch_op:
        batch_op.create_index('ix_credit_entitlements_env_created', ['environment', 'created_at'], unique=False)

    op.create_table('credit_grants',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('balance_id', sa.String(length=40), nullable=False),
    sa.Column('initial_amount', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('remaining_amount', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=255), nullable=True),
    sa.Column('parent_grant_id', sa.String(length=40), nullable=True),
    sa.Column('rollover_count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.Column('cycle_end', sa.BigInteger(), nullable=True),
    sa.Column('closed', sa.String(length=16), nullable=True),
    sa.Column('closed_at', sa.BigInteger(), nullable=True),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('credit_grants', schema=None) as batch_op:
        batch_op.create_index('ix_credit_grants_balance_open', ['balance_id', 'is_open', 'seq'], unique=False)

    op.create_table('credit_ledger',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('balance_id', sa.String(length=40), nullable=False),
    sa.Column('entitlement_id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('transaction_type', sa.String(length=32), nullable=False),
    sa.Column('amount', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('is_credit', sa.Boolean(), nullable=False),
    sa.Column('balance_before', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('balance_after', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('overage_before', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('overage_after', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('grant_id', sa.String(length=40), nullable=True),
    sa.Column('allocations', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('period_start', sa.BigInteger(), nullable=True),
    sa.Column('period_end', sa.BigInteger(), nullable=True),
    sa.Column('unit_price', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('reference_type', sa.String(length=32), nullable=True),
    sa.Column('reference_id', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('environment', 'idempotency_key', name='uq_credit_ledger_idempotency'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_credit_ledger_balance_seq', ['balance_id', 'seq'], unique=False)
        batch_op.create_index('ix_credit_ledger_env_customer_type', ['environment', 'customer_id', 'transaction_type', 'created_at'], unique=False)

    op.create_table('customer_wallets',
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('environment', 'customer_id', 'currency', name='pk_customer_wallets')
    )
    op.create_table('wallet_ledger',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('is_credit', sa.Boolean(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('before_balance', sa.BigInteger(), nullable=False),
    sa.Column('after_balance', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reference_object_id', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('environment', 'idempotency_key', name='uq_wallet_ledger_idempotency'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('wallet_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_ledger_env_customer_seq', ['environment', 'customer_id', 'seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('wallet_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_ledger_env_customer_seq')

    op.drop_table('wallet_ledger')
    op.drop_table('customer_wallets')
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_ledger_env_customer_type')
        batch_op.drop_index('ix_credit_ledger_balance_seq')

    op.drop_table('credit_ledger')
    with op.batch_alter_table('credit_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_grants_balance_open')

    op.drop_table('credit_grants')
    with op.batch_alter_table('credit_entitlements', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_entitlements_env_created')

    op.drop_table('credit_entitlements')
    with op.batch_alter_table('credit_balances', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_balances_next_event')
        batch_op.drop_index('ix_credit_balances_env_customer')

    op.drop_table('credit_balances')
