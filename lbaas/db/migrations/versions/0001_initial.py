"""initial schema: load balancers, listeners, pools, members, health monitors, tags

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 05:01:39.239047
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('listener_statistics',
    sa.Column('listener_id', sa.String(length=36), nullable=False),
    sa.Column('amphora_id', sa.String(length=36), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('active_connections', sa.Integer(), nullable=False),
    sa.Column('total_connections', sa.BigInteger(), nullable=False),
    sa.Column('request_errors', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('listener_id', 'amphora_id')
    )
    op.create_table('load_balancer',
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('flavor_id', sa.String(length=36), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('topology', sa.String(length=36), nullable=True),
    sa.Column('vip_address', sa.String(length=64), nullable=True),
    sa.Column('vip_port_id', sa.String(length=36), nullable=True),
    sa.Column('vip_subnet_id', sa.String(length=36), nullable=True),
    sa.Column('vip_network_id', sa.String(length=36), nullable=True),
    sa.Column('vip_qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('vip_sg_ids', sa.JSON(), nullable=False),
    sa.Column('vip_vnic_type', sa.String(length=64), nullable=False),
    sa.Column('vip_octavia_owned', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('load_balancer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_load_balancer_project_id'), ['project_id'], unique=False)

    op.create_table('tag',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'tag')
    )
    op.create_table('additional_vip',
    sa.Column('load_balancer_id', sa.String(length=36), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('port_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['load_balancer_id'], ['load_balancer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('load_balancer_id', 'subnet_id')
    )
    op.create_table('pool',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('lb_algorithm', sa.String(length=32), nullable=False),
    sa.Column('session_persistence', sa.JSON(), nullable=True),
    sa.Column('tls_enabled', sa.Boolean(), nullable=False),
    sa.Column('tls_container_ref', sa.String(length=255), nullable=True),
    sa.Column('ca_tls_container_ref', sa.String(length=255), nullable=True),
    sa.Column('crl_container_ref', sa.String(length=255), nullable=True),
    sa.Column('tls_ciphers', sa.String(length=2048), nullable=True),
    sa.Column('tls_versions', sa.JSON(), nullable=True),
    sa.Column('alpn_protocols', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pool_loadbalancer_id'), ['loadbalancer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pool_project_id'), ['project_id'], unique=False)

    op.create_table('listener',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('l4_protocol', sa.String(length=8), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('connection_limit', sa.Integer(), nullable=False),
    sa.Column('default_pool_id', sa.String(length=36), nullable=True),
    sa.Column('insert_headers', sa.JSON(), nullable=False),
    sa.Column('timeout_client_data', sa.Integer(), nullable=True),
    sa.Column('timeout_member_connect', sa.Integer(), nullable=True),
    sa.Column('timeout_member_data', sa.Integer(), nullable=True),
    sa.Column('timeout_tcp_inspect', sa.Integer(), nullable=True),
    sa.Column('default_tls_container_ref', sa.String(length=255), nullable=True),
    sa.Column('sni_container_refs', sa.JSON(), nullable=False),
    sa.Column('client_ca_tls_container_ref', sa.String(length=255), nullable=True),
    sa.Column('client_authentication', sa.String(length=10), nullable=False),
    sa.Column('client_crl_container_ref', sa.String(length=255), nullable=True),
    sa.Column('allowed_cidrs', sa.JSON(), nullable=False),
    sa.Column('tls_ciphers', sa.String(length=2048), nullable=True),
    sa.Column('tls_versions', sa.JSON(), nullable=True),
    sa.Column('alpn_protocols', sa.JSON(), nullable=True),
    sa.Column('hsts_max_age', sa.Integer(), nullable=True),
    sa.Column('hsts_include_subdomains', sa.Boolean(), nullable=False),
    sa.Column('hsts_preload', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['default_pool_id'], ['pool.id'], name='fk_listener_default_pool', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loadbalancer_id', 'l4_protocol', 'protocol_port', name='uq_listener_l4_port')
    )
    with op.batch_alter_table('listener', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listener_default_pool_id'), ['default_pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listener_loadbalancer_id'), ['loadbalancer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listener_project_id'), ['project_id'], unique=False)

    op.create_table('health_monitor',
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=36), nullable=False),
    sa.Column('delay', sa.Integer(), nullable=False),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('max_retries_down', sa.Integer(), nullable=False),
    sa.Column('http_method', sa.String(length=16), nullable=True),
    sa.Column('url_path', sa.String(length=2048), nullable=True),
    sa.Column('expected_codes', sa.String(length=64), nullable=True),
    sa.Column('http_version', sa.Float(), nullable=True),
    sa.Column('domain_name', sa.String(length=255), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id')
    )
    with op.batch_alter_table('health_monitor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_monitor_project_id'), ['project_id'], unique=False)

    op.create_table('member',
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('backup', sa.Boolean(), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=True),
    sa.Column('monitor_address', sa.String(length=64), nullable=True),
    sa.Column('monitor_port', sa.Integer(), nullable=True),
    sa.Column('vnic_type', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'address', 'protocol_port', name='uq_member_address_port')
    )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_pool_id'), ['pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_project_id'), ['project_id'], unique=False)



def downgrade():
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_project_id'))
        batch_op.drop_index(batch_op.f('ix_member_pool_id'))

    op.drop_table('member')
    with op.batch_alter_table('health_monitor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_monitor_project_id'))

    op.drop_table('health_monitor')
    with op.batch_alter_table('listener', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listener_project_id'))
        batch_op.drop_index(batch_op.f('ix_listener_loadbalancer_id'))
        batch_op.drop_index(batch_op.f('ix_listener_default_pool_id'))

    op.drop_table('listener')
    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pool_project_id'))
        batch_op.drop_index(batch_op.f('ix_pool_loadbalancer_id'))

    op.drop_table('pool')
    op.drop_table('additional_vip')
    op.drop_table('tag')
    with op.batch_alter_table('load_balancer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_load_balancer_project_id'))

    op.drop_table('load_balancer')
    op.drop_table('listener_statistics')
