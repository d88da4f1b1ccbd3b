"""amphora health and network ports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('amphora_health',
    sa.Column('amphora_id', sa.String(length=36), nullable=False),
    sa.Column('last_update', sa.DateTime(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('busy', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('amphora_id')
    )
    with op.batch_alter_table('amphora_health', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amphora_health_last_update'), ['last_update'], unique=False)

    op.create_table('network_port',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('mac_address', sa.String(length=64), nullable=True),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('device_owner', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subnet_id', 'ip_address')
    )
    with op.batch_alter_table('network_port', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_port_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_port_network_id'), ['network_id'], unique=False)



def downgrade():
    with op.batch_alter_table('network_port', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_port_network_id'))
        batch_op.drop_index(batch_op.f('ix_network_port_device_id'))

    op.drop_table('network_port')
    with op.batch_alter_table('amphora_health', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amphora_health_last_update'))

    op.drop_table('amphora_health')
