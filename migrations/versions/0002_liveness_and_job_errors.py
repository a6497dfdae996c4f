"""liveness of providers and isolated job errors

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('failures', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('retry_at', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('last_error', sa.String(length=256), nullable=True))
    with op.batch_alter_table('providers') as batch:
        batch.add_column(sa.Column('left_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('providers') as batch:
        batch.drop_column('left_at')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('last_error')
        batch.drop_column('retry_at')
        batch.drop_column('failures')
