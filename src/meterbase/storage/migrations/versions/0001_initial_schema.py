"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 14:29:05.921778
"""
from alembic import op
import sqlalchemy as sa

import meterbase.storage.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=24), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('event_name', sa.String(length=255), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('ingested_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('environment', 'event_id', name='uq_events_env_event_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_env_customer_name_ts', ['environment', 'customer_id', 'event_name', 'ts'], unique=False)
        batch_op.create_index('ix_events_env_name_ts', ['environment', 'event_name', 'ts'], unique=False)
        batch_op.create_index('ix_events_env_ts', ['environment', 'ts'], unique=False)

    op.create_table('meter_distinct',
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('grain', sa.SmallInteger(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.String(length=4096), nullable=False),
    sa.PrimaryKeyConstraint('meter_id', 'grain', 'customer_id', 'bucket', 'value', name='pk_meter_distinct')
    )
    with op.batch_alter_table('meter_distinct', schema=None) as batch_op:
        batch_op.create_index('ix_meter_distinct_meter_grain_bucket', ['meter_id', 'grain', 'bucket'], unique=False)

    op.create_table('meter_rollups',
    sa.Column('meter_id', sa.String(length=40), nullable=False),
    sa.Column('grain', sa.SmallInteger(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('sum', meterbase.storage.types.ExactDecimal(length=80), nullable=False),
    sa.Column('min', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('max', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('last_ts', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_value', meterbase.storage.types.ExactDecimal(length=80), nullable=True),
    sa.Column('rejected', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('meter_id', 'grain', 'customer_id', 'bucket', name='pk_meter_rollups')
    )
    with op.batch_alter_table('meter_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_meter_rollups_meter_grain_bucket', ['meter_id', 'grain', 'bucket'], unique=False)

    op.create_table('meters',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('event_name', sa.String(length=255), nullable=False),
    sa.Column('aggregation', sa.String(length=16), nullable=False),
    sa.Column('aggregation_key', sa.String(length=255), nullable=True),
    sa.Column('measurement_unit', sa.String(length=64), nullable=False),
    sa.Column('filter', sa.Text(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.create_index('ix_meters_env_event_name', ['environment', 'event_name'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.drop_index('ix_meters_env_event_name')

    op.drop_table('meters')
    with op.batch_alter_table('meter_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_meter_rollups_meter_grain_bucket')

    op.drop_table('meter_rollups')
    with op.batch_alter_table('meter_distinct', schema=None) as batch_op:
        batch_op.drop_index('ix_meter_distinct_meter_grain_bucket')

    op.drop_table('meter_distinct')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_env_ts')
        batch_op.drop_index('ix_events_env_name_ts')
        batch_op.drop_index('ix_events_env_customer_name_ts')

    op.drop_table('events')
    op.drop_table('api_keys')

