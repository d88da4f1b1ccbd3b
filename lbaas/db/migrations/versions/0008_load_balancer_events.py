"""load balancer operations awaiting their event notification

One row per load balancer with a create, update or delete in progress; the status report
that completes the operation takes it (lbaas.core.events), so each operation is announced
once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('load_balancer_event',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('loadbalancer_id')
    )


def downgrade():
    op.drop_table('load_balancer_event')
