"""heartbeat times keep their microseconds on MySQL/MariaDB

MySQL's DATETIME holds whole seconds unless given a precision, so a heartbeat that arrived
0.9 s ago read back as up to 1.9 s old and liveness was judged a second early. PostgreSQL's
and SQLite's columns keep microseconds already: nothing changes there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'mysql':
        op.alter_column('amphora_health', 'last_update', existing_type=sa.DateTime(),
                        type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade():
    if op.get_bind().dialect.name == 'mysql':
        op.alter_column('amphora_health', 'last_update', existing_type=mysql.DATETIME(fsp=6),
                        type_=sa.DateTime(), existing_nullable=False)
