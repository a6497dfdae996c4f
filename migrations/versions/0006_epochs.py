"""epoch jobs: requests of many channels served first and paid together

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('epoch_state', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('epoch_ends_at', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('epoch_opened_at', sa.BigInteger(), nullable=True))
        batch.create_index('ix_jobs_epoch_state', ['epoch_state'])
    with op.batch_alter_table('shards') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=44), nullable=True))
        batch.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch.create_unique_constraint('uq_shards_job_channel_seq', ['job', 'channel', 'seq'])
    with op.batch_alter_table('vouchers') as batch:
        batch.add_column(sa.Column('epoch', sa.String(length=44), nullable=True))
        batch.add_column(sa.Column('first_seq', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cost', sa.BigInteger(), nullable=True))
        batch.create_index('ix_vouchers_epoch', ['epoch'])
        batch.create_foreign_key('fk_vouchers_epoch_jobs', 'jobs', ['epoch'], ['address'])


def downgrade() -> None:
    with op.batch_alter_table('vouchers') as batch:
        batch.drop_constraint('fk_vouchers_epoch_jobs', type_='foreignkey')
        batch.drop_index('ix_vouchers_epoch')
        batch.drop_column('cost')
        batch.drop_column('first_seq')
        batch.drop_column('epoch')
    with op.batch_alter_table('shards') as batch:
        batch.drop_constraint('uq_shards_job_channel_seq', type_='unique')
        batch.drop_column('seq')
        batch.drop_column('channel')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_index('ix_jobs_epoch_state')
        batch.drop_column('epoch_opened_at')
        batch.drop_column('epoch_ends_at')
        batch.drop_column('epoch_state')
