"""What clients and dashboards read: a job's status, outputs and verification report; metrics."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from marketplace.aggregator import models as m
from marketplace.aggregator.errors import NotFound
from marketplace.chain.accounts import Verdict


async def job_report(sessions, address: str) -> dict:
    async with sessions() as session:
        job = await session.get(m.Job, address)
        if job is None:
            raise NotFound(f"no job {address}", "job_not_found")
        shards = (await session.execute(select(m.Shard).where(m.Shard.job == address).order_by(m.Shard.index))).scalars().all()
        tasks = (await session.execute(select(m.Task).where(m.Task.job == address))).scalars().all()
        settlements = (await session.execute(select(m.Settlement).where(m.Settlement.job == address))).scalars().all()
        quote = (await session.execute(select(m.Quote).where(m.Quote.job == address))).scalar_one()
    revealed = any(s.status == "confirmed" for s in settlements)
    return {
        "job": address, "status": job.status, "kind": job.kind, "shard_count": job.shard_count,
        "cache_hits": job.cache_hits, "deadline": job.deadline,
        "shards": [
            {"index": s.index, "status": s.status, "verification": s.verification, "digest": s.digest,
             "output": s.output if s.status in ("verified", "cached") else None,
             "providers": sorted({t.provider_owner for t in tasks if t.shard == s.index and t.role != "referee" and t.fault is False}),
             "runs": [{"provider": t.provider_owner, "role": t.role, "status": t.status, "fault": t.fault}
                      for t in sorted(tasks, key=lambda t: t.id) if t.shard == s.index]}
            for s in shards
        ],
        "faults": [{"shard": t.shard, "role": t.role, "provider": t.provider_owner, "reason": "expired" if t.status == "expired" else "wrong_output"}
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
    lines = ["# HELP tessera_jobs Jobs by status.", "# TYPE tessera_jobs gauge"]
    lines += [f'tessera_jobs{{status="{k}"}} {v}' for k, v in sorted(jobs.items())]
    lines += ["# HELP tessera_tasks Provider tasks by status.", "# TYPE tessera_tasks gauge"]
    lines += [f'tessera_tasks{{status="{k}"}} {v}' for k, v in sorted(tasks.items())]
    lines += ["# HELP tessera_shards_verified Shards decided, by how.", "# TYPE tessera_shards_verified gauge"]
    lines += [f'tessera_shards_verified{{how="{k}"}} {v}' for k, v in sorted(verifications.items())]
    lines += ["# HELP tessera_faults Provider work found wrong or missing.", "# TYPE tessera_faults gauge", f"tessera_faults {faults}"]
    lines += ["# HELP tessera_providers Registered providers.", "# TYPE tessera_providers gauge", f"tessera_providers {providers}"]
    return "\n".join(lines) + "\n"
