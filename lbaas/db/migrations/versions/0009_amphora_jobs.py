"""amphora driver jobs shared by several processes

One row per job (the spare pool's top-up), written by compare-and-swap in the transaction
that does the job, so that two workers doing it at once are serialized.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

MICROSECONDS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade():
    op.create_table('amphora_job',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', MICROSECONDS, nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade():
    op.drop_table('amphora_job')
