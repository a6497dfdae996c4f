"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('output', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cache'))
    )
    op.create_table('nonces',
    sa.Column('signer', sa.String(length=44), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('signer', 'nonce', name=op.f('pk_nonces'))
    )
    with op.batch_alter_table('nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('providers',
    sa.Column('owner', sa.String(length=44), nullable=False),
    sa.Column('address', sa.String(length=44), nullable=False),
    sa.Column('endpoint', sa.String(length=128), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.BigInteger(), nullable=False),
    sa.Column('last_seen', sa.BigInteger(), nullable=False),
    sa.Column('tasks_done', sa.Integer(), nullable=False),
    sa.Column('timeouts', sa.Integer(), nullable=False),
    sa.Column('faults', sa.Integer(), nullable=False),
    sa.Column('busy_seconds', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('owner', name=op.f('pk_providers')),
    sa.UniqueConstraint('address', name=op.f('uq_providers_address'))
    )
    op.create_table('quotes',
    sa.Column('seed_commitment', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('model_digest', sa.String(length=64), nullable=False),
    sa.Column('shard_count', sa.Integer(), nullable=False),
    sa.Column('price_per_shard', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('job', sa.String(length=44), nullable=True),
    sa.PrimaryKeyConstraint('seed_commitment', name=op.f('pk_quotes')),
    sa.UniqueConstraint('job', name=op.f('uq_quotes_job'))
    )
    op.create_table('jobs',
    sa.Column('address', sa.String(length=44), nullable=False),
    sa.Column('client', sa.String(length=44), nullable=False),
    sa.Column('chain_job_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('model_digest', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('shard_count', sa.Integer(), nullable=False),
    sa.Column('price_per_shard', sa.BigInteger(), nullable=False),
    sa.Column('sampling_rate_bps', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.BigInteger(), nullable=False),
    sa.Column('seed_commitment', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('cache_hits', sa.Integer(), nullable=False),
    sa.Column('close_signature', sa.String(length=88), nullable=True),
    sa.ForeignKeyConstraint(['seed_commitment'], ['quotes.seed_commitment'], name=op.f('fk_jobs_seed_commitment_quotes')),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_jobs')),
    sa.UniqueConstraint('seed_commitment', name=op.f('uq_jobs_seed_commitment'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_client'), ['client'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)

    op.create_table('settlements',
    sa.Column('job', sa.String(length=44), nullable=False),
    sa.Column('provider_owner', sa.String(length=44), nullable=False),
    sa.Column('verdict', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=88), nullable=True),
    sa.ForeignKeyConstraint(['job'], ['jobs.address'], name=op.f('fk_settlements_job_jobs')),
    sa.PrimaryKeyConstraint('job', 'provider_owner', name=op.f('pk_settlements'))
    )
    op.create_table('shards',
    sa.Column('job', sa.String(length=44), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('input', sa.JSON(), nullable=False),
    sa.Column('input_digest', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('output', sa.JSON(), nullable=True),
    sa.Column('verification', sa.String(length=32), nullable=True),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['job'], ['jobs.address'], name=op.f('fk_shards_job_jobs')),
    sa.PrimaryKeyConstraint('job', 'index', name=op.f('pk_shards'))
    )
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=44), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('model_digest', sa.String(length=64), nullable=False),
    sa.Column('excluded_owners', sa.JSON(), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_owner', sa.String(length=44), nullable=True),
    sa.Column('claimed_at', sa.BigInteger(), nullable=True),
    sa.Column('claim_deadline', sa.BigInteger(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('output', sa.JSON(), nullable=True),
    sa.Column('fault', sa.Boolean(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job'], ['jobs.address'], name=op.f('fk_tasks_job_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('job', 'shard', 'role', 'attempt', name='uq_tasks_job_shard_role_attempt')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_job'), ['job'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_provider_owner'), ['provider_owner'], unique=False)
        batch_op.create_index('ix_tasks_queue', ['status', 'model_digest'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_queue')
        batch_op.drop_index(batch_op.f('ix_tasks_provider_owner'))
        batch_op.drop_index(batch_op.f('ix_tasks_job'))

    op.drop_table('tasks')
    op.drop_table('shards')
    op.drop_table('settlements')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_client'))

    op.drop_table('jobs')
    op.drop_table('quotes')
    op.drop_table('providers')
    with op.batch_alter_table('nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonces_expires_at'))

    op.drop_table('nonces')
    op.drop_table('cache')
