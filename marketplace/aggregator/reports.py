"""What clients and dashboards read: a job's status, outputs and verification report; metrics."""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from marketplace.aggregator import models as m
from marketplace.aggregator.errors import NotFound
from marketplace.chain.accounts import Verdict
from marketplace.vocabulary import DECIDED, FINAL, EpochState, JobStatus, Role, SettlementStatus, TaskStatus


def _revision(status: str, finished: int, settlements: list[tuple[str, int, list[int]]]) -> str:
    """Changes whenever a client would see something new: the job's status, a shard finished, a settlement round."""
    state = repr((status, finished, sorted((owner, verdict, len(accepted)) for owner, verdict, accepted in settlements)))
    return hashlib.blake2b(state.encode(), digest_size=8).hexdigest()


def epoch_request_revision(epoch_status: str, epoch_state: str, payment: str, finished: int) -> str:
    """A request served in an epoch changes with its epoch's status and state, its payment and its own shards."""
    return _revision(f"{epoch_status}:{epoch_state}:{payment}", finished, [])


async def revision_reader(sessions, address: str) -> Callable[[], Awaitable[str]]:
    """What reads the revision of `address`, a job or a request served in an epoch (its own: its shards' and its
    epoch's), without loading any output. Long polls read it on every wake-up, so what the address is is settled
    once here and each read is one statement (a job's settlements a second)."""
    async with sessions() as session:
        is_job = (await session.execute(select(m.Job.address).where(m.Job.address == address))).first() is not None
        request = None if is_job else await _epoch_request(session, address)
    if request is not None:  # a request's settlements are its epoch's, told by its payment's status
        own_finished = select(func.count()).select_from(m.Shard).where(_own(request), m.Shard.status.in_(FINAL))
        query = select(m.Job.status, m.Job.epoch_state, m.Voucher.status, own_finished.scalar_subquery()).join(
            m.Job, m.Job.address == m.Voucher.epoch).where(m.Voucher.job == address)

        async def read_request() -> str:
            async with sessions() as session:
                return epoch_request_revision(*(await session.execute(query)).one())

        return read_request
    finished = select(func.count()).select_from(m.Shard).where(m.Shard.job == address, m.Shard.status.in_(FINAL))
    job = select(m.Job.status, finished.scalar_subquery()).where(m.Job.address == address)
    settled = select(m.Settlement.provider_owner, m.Settlement.verdict, m.Settlement.accepted).where(
        m.Settlement.job == address, m.Settlement.status == SettlementStatus.CONFIRMED)

    async def read_job() -> str:
        async with sessions() as session:
            status, done = (await session.execute(job)).one()
            confirmed = [tuple(row) for row in (await session.execute(settled)).all()]
        return _revision(status, done, confirmed)

    return read_job


async def _epoch_request(session, address: str) -> m.Voucher:
    """The request served in an epoch under this address, or NotFound (no job nor request has it)."""
    request = (await session.execute(select(m.Voucher).where(
        m.Voucher.job == address, m.Voucher.epoch.is_not(None)))).scalar_one_or_none()
    if request is None:
        raise NotFound(f"no job {address}", "job_not_found")
    return request


def _own(request: m.Voucher):
    """A condition on shards: the request's own, among its epoch's (its channel's places, which its layout keeps)."""
    count = len(request.request["inputs"])
    return (m.Shard.job == request.epoch) & (m.Shard.channel == request.channel) & m.Shard.seq.between(
        request.first_seq, request.first_seq + count - 1)


async def job_report(sessions, address: str, private: bool) -> dict:
    """`private`: the reader is the job's client or one of its providers, who see every output. Anyone else
    sees the job's progress, verification and settlements, and the input and outputs of disputed shards only
    (what an audit of a slash needs). A request served in an epoch reports its own shards alone, numbered from 0 in
    its inputs' order, with its epoch's state (its payer reads its outputs; nobody reads the other channels')."""
    async with sessions() as session:
        job = await session.get(m.Job, address)
        request = None
        if job is None:
            request = await _epoch_request(session, address)
            job = await session.get(m.Job, request.epoch)
        owned = m.Shard.job == address if request is None else _own(request)
        shards = (await session.execute(select(m.Shard).where(owned).order_by(
            m.Shard.index if request is None else m.Shard.seq))).scalars().all()
        indices = [s.index for s in shards]
        tasks = (await session.execute(select(m.Task).where(m.Task.job == job.address, m.Task.shard.in_(indices))
                                       .order_by(m.Task.id).options(
            load_only(m.Task.shard, m.Task.role, m.Task.status, m.Task.fault, m.Task.provider_owner)))).scalars().all()
        disputed = {t.shard for t in tasks if t.role == Role.REFEREE}
        # Run outputs are published for disputed shards only: read them for those alone (reports are long-polled).
        audited = dict((await session.execute(select(m.Task.id, m.Task.output).where(
            m.Task.job == job.address, m.Task.shard.in_(disputed)))).all()) if disputed else {}
        settlements = (await session.execute(select(m.Settlement).where(m.Settlement.job == job.address))).scalars().all()
        quote = (await session.execute(select(m.Quote).where(m.Quote.job == job.address))).scalar_one()
    # The seed is told once nothing more can be submitted (the job is over or past its deadline), as on chain.
    revealed = job.status in (JobStatus.CLOSED, JobStatus.CANCELLED, JobStatus.FAILED) or time.time() > job.deadline
    runs = defaultdict(list)
    for task in tasks:
        runs[task.shard].append(task)
    # A request's shards are known to its client by their place in it; on chain by their index (once laid out).
    shown = {s.index: (s.index if request is None else s.seq - request.first_seq) for s in shards}
    laid_out = request is not None and job.epoch_state in (EpochState.LAID_OUT, EpochState.OPEN)
    confirmed = [(s.provider_owner, s.verdict, s.accepted) for s in settlements if s.status == SettlementStatus.CONFIRMED]
    report = {
        "job": address, "status": job.status, "kind": job.kind, "model_digest": job.model_digest, "params": job.params,
        "shard_count": len(shards) if request is not None else job.shard_count,
        "cache_hits": job.cache_hits if request is None else 0, "deadline": job.deadline, "error": job.last_error,
        "revision": _revision(job.status, sum(s.status in FINAL for s in shards), confirmed) if request is None else
                    epoch_request_revision(job.status, job.epoch_state, request.status, sum(s.status in FINAL for s in shards)),
        "shards": [
            {"index": shown[s.index], "status": s.status, "verification": s.verification, "digest": s.digest,
             "input_digest": s.input_digest,  # a leaf of the input root committed on chain
             "output": s.output if s.status in DECIDED and (private or s.index in disputed) else None,
             "providers": sorted({t.provider_owner for t in runs[s.index] if t.role != Role.REFEREE and t.fault is False}),
             "runs": [{"provider": t.provider_owner, "role": t.role, "status": t.status, "fault": t.fault,
                       **({"output": audited[t.id]} if s.index in disputed else {})} for t in runs[s.index]],
             **({"input": s.input} if s.index in disputed else {}),
             **({"chain_index": s.index if laid_out else None} if request is not None else {})}
            for s in shards
        ],
        "faults": [{"shard": shown[t.shard], "role": t.role, "provider": t.provider_owner,
                    "reason": "expired" if t.status == TaskStatus.EXPIRED else "wrong_output"} for t in tasks if t.fault],
        "settlements": [{"provider": s.provider_owner, "verdict": Verdict(s.verdict).name.lower(), "accepted": s.accepted}
                        for s in settlements],
        "seed": quote.seed if revealed else None,
        "close_signature": job.close_signature,
    }
    if request is None and job.epoch_state is not None:
        report["epoch_state"] = job.epoch_state
    if request is not None:  # how it is paid: by its voucher, claimed with the epoch's others once the epoch opens
        report["epoch"] = {"job": job.address, "state": job.epoch_state, "ends_at": job.epoch_ends_at,
                           "channel": request.channel, "voucher": request.amount, "cost": request.cost,
                           "payment": request.status, "claim_signature": request.claim_signature}
    return report


async def metrics_text(sessions) -> str:
    async with sessions() as session:
        jobs = Counter(dict((await session.execute(select(m.Job.status, func.count()).group_by(m.Job.status))).all()))
        tasks = Counter(dict((await session.execute(select(m.Task.status, func.count()).group_by(m.Task.status))).all()))
        verifications = Counter(dict((await session.execute(
            select(m.Shard.verification, func.count()).where(m.Shard.verification.is_not(None)).group_by(m.Shard.verification))).all()))
        faults = (await session.execute(select(func.count()).select_from(m.Task).where(m.Task.fault.is_(True)))).scalar_one()
        providers = (await session.execute(select(func.count()).select_from(m.Provider))).scalar_one()
        failing = (await session.execute(select(func.count()).select_from(m.Job).where(m.Job.last_error.is_not(None)))).scalar_one()
    lines = ["# HELP tessera_jobs Jobs by status.", "# TYPE tessera_jobs gauge"]
    lines += [f'tessera_jobs{{status="{k}"}} {v}' for k, v in sorted(jobs.items())]
    lines += ["# HELP tessera_tasks Provider tasks by status.", "# TYPE tessera_tasks gauge"]
    lines += [f'tessera_tasks{{status="{k}"}} {v}' for k, v in sorted(tasks.items())]
    lines += ["# HELP tessera_shards_verified Shards decided, by how.", "# TYPE tessera_shards_verified gauge"]
    lines += [f'tessera_shards_verified{{how="{k}"}} {v}' for k, v in sorted(verifications.items())]
    lines += ["# HELP tessera_faults Provider work found wrong or missing.", "# TYPE tessera_faults gauge", f"tessera_faults {faults}"]
    lines += ["# HELP tessera_providers Registered providers.", "# TYPE tessera_providers gauge", f"tessera_providers {providers}"]
    lines += ["# HELP tessera_jobs_failing Jobs whose last conductor pass failed (retried with backoff; the others go on).",
              "# TYPE tessera_jobs_failing gauge", f"tessera_jobs_failing {failing}"]
    return "\n".join(lines) + "\n"
