"""What clients and dashboards read: a job's status, outputs and verification report; metrics."""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from marketplace.aggregator import models as m
from marketplace.aggregator.errors import NotFound
from marketplace.chain.accounts import Verdict
from marketplace.vocabulary import DECIDED, FINAL, JobStatus, Role, SettlementStatus, TaskStatus


def _revision(status: str, finished: int, settlements: list[tuple[str, int, list[int]]]) -> str:
    """Changes whenever a client would see something new: the job's status, a shard finished, a settlement round."""
    state = repr((status, finished, sorted((owner, verdict, len(accepted)) for owner, verdict, accepted in settlements)))
    return hashlib.blake2b(state.encode(), digest_size=8).hexdigest()


async def job_revision(sessions, address: str) -> str:
    """The job's revision, read without loading any output (long polls ask it on every wake-up)."""
    async with sessions() as session:
        status = (await session.execute(select(m.Job.status).where(m.Job.address == address))).scalar_one_or_none()
        if status is None:
            raise NotFound(f"no job {address}", "job_not_found")
        finished = (await session.execute(select(func.count()).select_from(m.Shard).where(
            m.Shard.job == address, m.Shard.status.in_(FINAL)))).scalar_one()
        settled = [tuple(row) for row in (await session.execute(
            select(m.Settlement.provider_owner, m.Settlement.verdict, m.Settlement.accepted).where(
                m.Settlement.job == address, m.Settlement.status == SettlementStatus.CONFIRMED))).all()]
    return _revision(status, finished, settled)


async def job_report(sessions, address: str, private: bool) -> dict:
    """`private`: the reader is the job's client or one of its providers, who see every output. Anyone else
    sees the job's progress, verification and settlements, and the input and outputs of disputed shards only
    (what an audit of a slash needs)."""
    async with sessions() as session:
        job = await session.get(m.Job, address)
        if job is None:
            raise NotFound(f"no job {address}", "job_not_found")
        shards = (await session.execute(select(m.Shard).where(m.Shard.job == address).order_by(m.Shard.index))).scalars().all()
        tasks = (await session.execute(select(m.Task).where(m.Task.job == address).order_by(m.Task.id).options(
            load_only(m.Task.shard, m.Task.role, m.Task.status, m.Task.fault, m.Task.provider_owner)))).scalars().all()
        disputed = {t.shard for t in tasks if t.role == Role.REFEREE}
        # Run outputs are published for disputed shards only: read them for those alone (reports are long-polled).
        audited = dict((await session.execute(select(m.Task.id, m.Task.output).where(
            m.Task.job == address, m.Task.shard.in_(disputed)))).all()) if disputed else {}
        settlements = (await session.execute(select(m.Settlement).where(m.Settlement.job == address))).scalars().all()
        quote = (await session.execute(select(m.Quote).where(m.Quote.job == address))).scalar_one()
    # The seed is told once nothing more can be submitted (the job is over or past its deadline), as on chain.
    revealed = job.status in (JobStatus.CLOSED, JobStatus.CANCELLED, JobStatus.FAILED) or time.time() > job.deadline
    runs = defaultdict(list)
    for task in tasks:
        runs[task.shard].append(task)
    return {
        "job": address, "status": job.status, "kind": job.kind, "model_digest": job.model_digest, "params": job.params,
        "shard_count": job.shard_count,
        "cache_hits": job.cache_hits, "deadline": job.deadline, "error": job.last_error,
        "revision": _revision(job.status, sum(s.status in FINAL for s in shards),
                              [(s.provider_owner, s.verdict, s.accepted) for s in settlements if s.status == SettlementStatus.CONFIRMED]),
        "shards": [
            {"index": s.index, "status": s.status, "verification": s.verification, "digest": s.digest,
             "input_digest": s.input_digest,  # a leaf of the input root the client committed on chain
             "output": s.output if s.status in DECIDED and (private or s.index in disputed) else None,
             "providers": sorted({t.provider_owner for t in runs[s.index] if t.role != Role.REFEREE and t.fault is False}),
             "runs": [{"provider": t.provider_owner, "role": t.role, "status": t.status, "fault": t.fault,
                       **({"output": audited[t.id]} if s.index in disputed else {})} for t in runs[s.index]],
             **({"input": s.input} if s.index in disputed else {})}
            for s in shards
        ],
        "faults": [{"shard": t.shard, "role": t.role, "provider": t.provider_owner, "reason": "expired" if t.status == TaskStatus.EXPIRED else "wrong_output"}
                   for t in tasks if t.fault],
        "settlements": [{"provider": s.provider_owner, "verdict": Verdict(s.verdict).name.lower(), "accepted": s.accepted}
                        for s in settlements],
        "seed": quote.seed if revealed else None,
        "close_signature": job.close_signature,
    }


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
