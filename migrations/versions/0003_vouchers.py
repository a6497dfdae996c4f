"""vouchers: requests paid from payment channels; readable model names

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('providers') as batch:
        batch.add_column(sa.Column('model_names', sa.JSON(), nullable=True))
    op.create_table('vouchers',
    sa.Column('job', sa.String(length=44), nullable=False),
    sa.Column('channel', sa.String(length=44), nullable=False),
    sa.Column('authorizer', sa.String(length=44), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.String(length=88), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claim_signature', sa.String(length=88), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_vouchers'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_channel'), ['channel'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_channel'))
    op.drop_table('vouchers')
    with op.batch_alter_table('providers') as batch:
        batch.drop_column('model_names')
