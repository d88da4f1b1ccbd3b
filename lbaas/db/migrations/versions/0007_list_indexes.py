"""load balancer lists read a page off an index

A list is sorted by created_at, then id, and most callers see one project's load balancers.
Without an index on those columns the database sorted every live row to return the first
page, so a page of 100 took longer with every load balancer added (measured on PostgreSQL:
2.8 ms of server CPU per page with 10 load balancers, 9.8 ms with 2,000).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_load_balancer_created_at_id', 'load_balancer', ['created_at', 'id'])
    op.create_index('ix_load_balancer_project_created_at_id', 'load_balancer',
                    ['project_id', 'created_at', 'id'])


def downgrade():
    op.drop_index('ix_load_balancer_project_created_at_id', table_name='load_balancer')
    op.drop_index('ix_load_balancer_created_at_id', table_name='load_balancer')
