"""vouchers keep the slot their claim landed in: the channel's headroom is checked against a view of it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vouchers') as batch:
        batch.add_column(sa.Column('claim_slot', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vouchers') as batch:
        batch.drop_column('claim_slot')
