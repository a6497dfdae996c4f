"""pipelines: the spans a provider serves; pipeline jobs and who drives them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('providers') as batch:
        batch.add_column(sa.Column('stages', sa.JSON(), nullable=True))
    op.create_table('pipeline_runs',
    sa.Column('job', sa.String(length=44), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.BigInteger(), nullable=False),
    sa.Column('drives', sa.Integer(), nullable=False),
    sa.Column('excluded_owners', sa.JSON(), nullable=False),
    sa.Column('pending', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['job'], ['jobs.address'], name=op.f('fk_pipeline_runs_job_jobs')),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_pipeline_runs'))
    )


def downgrade() -> None:
    op.drop_table('pipeline_runs')
    with op.batch_alter_table('providers') as batch:
        batch.drop_column('stages')
