"""l7 policies and rules, quotas, flavors, availability zones, amphorae

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 07:46:07.890973
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('availability_zone_profile',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('provider_name', sa.String(length=255), nullable=False),
    sa.Column('availability_zone_data', sa.String(length=4096), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('flavor_profile',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('provider_name', sa.String(length=255), nullable=False),
    sa.Column('flavor_data', sa.String(length=4096), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('quota',
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer', sa.Integer(), nullable=True),
    sa.Column('listener', sa.Integer(), nullable=True),
    sa.Column('pool', sa.Integer(), nullable=True),
    sa.Column('healthmonitor', sa.Integer(), nullable=True),
    sa.Column('member', sa.Integer(), nullable=True),
    sa.Column('l7policy', sa.Integer(), nullable=True),
    sa.Column('l7rule', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('availability_zone',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('availability_zone_profile_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['availability_zone_profile_id'], ['availability_zone_profile.id'], ),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('availability_zone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_zone_availability_zone_profile_id'), ['availability_zone_profile_id'], unique=False)

    op.create_table('flavor',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('flavor_profile_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['flavor_profile_id'], ['flavor_profile.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('flavor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flavor_flavor_profile_id'), ['flavor_profile_id'], unique=False)

    op.create_table('amphora',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=True),
    sa.Column('compute_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=36), nullable=False),
    sa.Column('lb_network_ip', sa.String(length=64), nullable=True),
    sa.Column('vrrp_ip', sa.String(length=64), nullable=True),
    sa.Column('ha_ip', sa.String(length=64), nullable=True),
    sa.Column('vrrp_port_id', sa.String(length=36), nullable=True),
    sa.Column('ha_port_id', sa.String(length=36), nullable=True),
    sa.Column('role', sa.String(length=36), nullable=True),
    sa.Column('cert_expiration', sa.DateTime(), nullable=True),
    sa.Column('cert_busy', sa.Boolean(), nullable=False),
    sa.Column('vrrp_interface', sa.String(length=16), nullable=True),
    sa.Column('vrrp_id', sa.Integer(), nullable=True),
    sa.Column('vrrp_priority', sa.Integer(), nullable=True),
    sa.Column('cached_zone', sa.String(length=255), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('compute_flavor', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancer.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('amphora', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amphora_loadbalancer_id'), ['loadbalancer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_amphora_status'), ['status'], unique=False)

    op.create_table('l7policy',
    sa.Column('listener_id', sa.String(length=36), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('action', sa.String(length=36), nullable=False),
    sa.Column('redirect_pool_id', sa.String(length=36), nullable=True),
    sa.Column('redirect_url', sa.String(length=255), nullable=True),
    sa.Column('redirect_prefix', sa.String(length=255), nullable=True),
    sa.Column('redirect_http_code', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['listener_id'], ['listener.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redirect_pool_id'], ['pool.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('l7policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_l7policy_listener_id'), ['listener_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7policy_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7policy_redirect_pool_id'), ['redirect_pool_id'], unique=False)

    op.create_table('l7rule',
    sa.Column('l7policy_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=36), nullable=False),
    sa.Column('compare_type', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('invert', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['l7policy_id'], ['l7policy.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('l7rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_l7rule_l7policy_id'), ['l7policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7rule_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('load_balancer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_load_balancer_availability_zone'), ['availability_zone'], unique=False)
        batch_op.create_index(batch_op.f('ix_load_balancer_flavor_id'), ['flavor_id'], unique=False)
        batch_op.create_foreign_key('fk_load_balancer_flavor', 'flavor', ['flavor_id'], ['id'])
        batch_op.create_foreign_key('fk_load_balancer_availability_zone', 'availability_zone', ['availability_zone'], ['name'])



def downgrade():
    with op.batch_alter_table('load_balancer', schema=None) as batch_op:
        batch_op.drop_constraint('fk_load_balancer_availability_zone', type_='foreignkey')
        batch_op.drop_constraint('fk_load_balancer_flavor', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_load_balancer_flavor_id'))
        batch_op.drop_index(batch_op.f('ix_load_balancer_availability_zone'))

    with op.batch_alter_table('l7rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_l7rule_project_id'))
        batch_op.drop_index(batch_op.f('ix_l7rule_l7policy_id'))

    op.drop_table('l7rule')
    with op.batch_alter_table('l7policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_l7policy_redirect_pool_id'))
        batch_op.drop_index(batch_op.f('ix_l7policy_project_id'))
        batch_op.drop_index(batch_op.f('ix_l7policy_listener_id'))

    op.drop_table('l7policy')
    with op.batch_alter_table('amphora', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amphora_status'))
        batch_op.drop_index(batch_op.f('ix_amphora_loadbalancer_id'))

    op.drop_table('amphora')
    with op.batch_alter_table('flavor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flavor_flavor_profile_id'))

    op.drop_table('flavor')
    with op.batch_alter_table('availability_zone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_zone_availability_zone_profile_id'))

    op.drop_table('availability_zone')
    op.drop_table('quota')
    op.drop_table('flavor_profile')
    op.drop_table('availability_zone_profile')
