"""amphora worker leases and the registry of live workers

One row per load balancer says which lbaas-worker may reconcile it and until when; one row
per running worker says when it was last seen, so the periodic sweep is spread over the
workers alive.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MICROSECONDS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade():
    op.create_table('amphora_lease',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', MICROSECONDS, nullable=True),
    sa.Column('again', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('loadbalancer_id')
    )
    with op.batch_alter_table('amphora_lease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amphora_lease_holder'), ['holder'], unique=False)

    op.create_table('amphora_worker',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('last_seen', MICROSECONDS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('amphora_worker', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amphora_worker_last_seen'), ['last_seen'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('amphora_worker', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amphora_worker_last_seen'))
    op.drop_table('amphora_worker')
    with op.batch_alter_table('amphora_lease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amphora_lease_holder'))
    op.drop_table('amphora_lease')
