"""The aggregator's tables. The schema changes only through Alembic migrations (migrations/)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Quote(Base):
    """A price offered to a client, with the sampling seed committed before the job exists."""

    __tablename__ = "quotes"
    seed_commitment: Mapped[str] = mapped_column(String(64), primary_key=True)
    seed: Mapped[str] = mapped_column(String(64))  # secret until settlement reveals it
    model_digest: Mapped[str] = mapped_column(String(64))
    shard_count: Mapped[int] = mapped_column(Integer)
    price_per_shard: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    job: Mapped[str | None] = mapped_column(String(44), unique=True)  # set when a job uses it


class Job(Base):
    __tablename__ = "jobs"
    address: Mapped[str] = mapped_column(String(44), primary_key=True)
    client: Mapped[str] = mapped_column(String(44), index=True)
    chain_job_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # vocabulary.Kind
    model_digest: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    shard_count: Mapped[int] = mapped_column(Integer)
    price_per_shard: Mapped[int] = mapped_column(BigInteger)
    sampling_rate_bps: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[int] = mapped_column(BigInteger)
    seed_commitment: Mapped[str] = mapped_column(ForeignKey("quotes.seed_commitment"), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # vocabulary.JobStatus
    created_at: Mapped[int] = mapped_column(BigInteger)
    cache_hits: Mapped[int] = mapped_column(Integer, default=0)
    close_signature: Mapped[str | None] = mapped_column(String(88))
    # Its answers are shown as they are generated (an OpenAI stream): one found wrong then is refunded, not rerun.
    streamed: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A conductor pass that failed on this job: the others go on, this one waits (backing off).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(256))
    # An epoch job (the requests of many channels, served first and paid together): where it stands
    # (vocabulary.EpochState), and when it stops taking requests. None for a job of its own.
    epoch_state: Mapped[str | None] = mapped_column(String(16), index=True)
    epoch_ends_at: Mapped[int | None] = mapped_column(BigInteger)
    epoch_opened_at: Mapped[int | None] = mapped_column(BigInteger)  # when it was open and funded on chain


class Shard(Base):
    __tablename__ = "shards"
    __table_args__ = (UniqueConstraint("job", "channel", "seq", name="uq_shards_job_channel_seq"),)
    job: Mapped[str] = mapped_column(ForeignKey("jobs.address"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    input: Mapped[Any] = mapped_column(JSON)
    input_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # vocabulary.ShardStatus
    digest: Mapped[str | None] = mapped_column(String(64))
    output: Mapped[Any | None] = mapped_column(JSON)
    verification: Mapped[str | None] = mapped_column(String(32))  # vocabulary.Verification
    decided_at: Mapped[int | None] = mapped_column(BigInteger)  # unix seconds it was verified or served from cache
    # In an epoch job: the channel that pays for it and its place among that channel's shards, which survive the
    # epoch's layout (its index is provisional until then: see epochs.py).
    channel: Mapped[str | None] = mapped_column(String(44))
    seq: Mapped[int | None] = mapped_column(Integer)


class Task(Base):
    """One unit of provider work: run a shard (primary or replica) or check claims (referee)."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("job", "shard", "role", "attempt", name="uq_tasks_job_shard_role_attempt"),
        Index("ix_tasks_queue", "status", "model_digest"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(ForeignKey("jobs.address"), index=True)
    shard: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # vocabulary.Role
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    model_digest: Mapped[str] = mapped_column(String(64))
    excluded_owners: Mapped[list[str]] = mapped_column(JSON, default=list)  # owners that may not take it
    claims: Mapped[Any | None] = mapped_column(JSON)  # for a referee: the outputs to check
    status: Mapped[str] = mapped_column(String(16))  # vocabulary.TaskStatus
    provider_owner: Mapped[str | None] = mapped_column(String(44), index=True)
    claimed_at: Mapped[int | None] = mapped_column(BigInteger)
    claim_deadline: Mapped[int | None] = mapped_column(BigInteger)
    digest: Mapped[str | None] = mapped_column(String(64))  # what the provider committed to
    output: Mapped[Any | None] = mapped_column(JSON)
    fault: Mapped[bool | None] = mapped_column()  # decided: True if this work was wrong or missing
    # Optimistic concurrency: an update of a row someone else changed since it was read
    # fails (StaleDataError), on SQLite too, where SELECT ... FOR UPDATE locks nothing.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Provider(Base):
    __tablename__ = "providers"
    owner: Mapped[str] = mapped_column(String(44), primary_key=True)
    address: Mapped[str] = mapped_column(String(44), unique=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    models: Mapped[list[str]] = mapped_column(JSON)
    model_names: Mapped[dict[str, str] | None] = mapped_column(JSON)  # digest -> a readable id (the OpenAI API's)
    stages: Mapped[dict[str, str] | None] = mapped_column(JSON)  # pipelined model digest -> the span it serves ("10-19")
    capacity: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)  # unix seconds of its last heartbeat or claim
    left_at: Mapped[int | None] = mapped_column(BigInteger)  # it said it was stopping; cleared when it registers again
    tasks_done: Mapped[int] = mapped_column(Integer, default=0)
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    faults: Mapped[int] = mapped_column(Integer, default=0)
    busy_seconds: Mapped[float] = mapped_column(default=0.0)


class PipelineRun(Base):
    """A job run as a pipeline: its shards are (request, stage) pairs, driven by one aggregator at a time (the one
    holding the lease), rerun without owners caught lying."""

    __tablename__ = "pipeline_runs"
    job: Mapped[str] = mapped_column(ForeignKey("jobs.address"), primary_key=True)
    spans: Mapped[list[str]] = mapped_column(JSON)  # the model's spans in order ("0-9", "10-19", ...)
    requests: Mapped[int] = mapped_column(Integer)  # shard = request * len(spans) + stage
    lease_until: Mapped[int] = mapped_column(BigInteger)  # unix seconds: a driver holds it until then
    drives: Mapped[int] = mapped_column(Integer)  # answers driven (a rerun after a caught lie adds one)
    excluded_owners: Mapped[list[str]] = mapped_column(JSON)  # providers caught lying in this job
    # Answers driven and not yet committed by their stages: shard -> {owner, url, session, digest}.
    pending: Mapped[dict[str, dict]] = mapped_column(JSON)


class Nonce(Base):
    """Nonces of signed messages already accepted: the primary key refuses a replay."""

    __tablename__ = "nonces"
    signer: Mapped[str] = mapped_column(String(44), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class CachedResult(Base):
    __tablename__ = "cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # model, input and params digests
    digest: Mapped[str] = mapped_column(String(64))
    output: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Settlement(Base):
    """The verdict on one provider's submission to one job, and whether the chain has it."""

    __tablename__ = "settlements"
    job: Mapped[str] = mapped_column(ForeignKey("jobs.address"), primary_key=True)
    provider_owner: Mapped[str] = mapped_column(String(44), primary_key=True)
    verdict: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # vocabulary.SettlementStatus: written once the transaction confirmed
    signature: Mapped[str | None] = mapped_column(String(88))


class Voucher(Base):
    """A voucher a request was paid with, kept before its claim is sent: nothing is served on a voucher the chain
    has not honoured, and the job it pays for (the key) is claimed once. A request served in an epoch keeps its
    quote's job address as its key (the client's handle on it) and names the epoch job that carries it."""

    __tablename__ = "vouchers"
    job: Mapped[str] = mapped_column(String(44), primary_key=True)
    channel: Mapped[str] = mapped_column(String(44), index=True)
    authorizer: Mapped[str] = mapped_column(String(44))  # signs the channel's vouchers; reads the job's outputs
    generation: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # lamports authorized in all, since the channel opened
    signature: Mapped[str] = mapped_column(String(88))
    request: Mapped[Any] = mapped_column(JSON)  # {kind, params, inputs}: a restart serves a claim that landed
    status: Mapped[str] = mapped_column(String(16))  # vocabulary.VoucherStatus
    claim_signature: Mapped[str | None] = mapped_column(String(88))
    created_at: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[str | None] = mapped_column(ForeignKey("jobs.address"), index=True)
    first_seq: Mapped[int | None] = mapped_column(Integer)  # its shards are the channel's seq first_seq, first_seq + 1, ...
    cost: Mapped[int | None] = mapped_column(BigInteger)  # the most it may cost: what its voucher had to cover
    # The slot its claim landed in: until this market's view of the channel reaches it, its cost still counts
    # against the channel (channel_views.py).
    claim_slot: Mapped[int | None] = mapped_column(BigInteger)
