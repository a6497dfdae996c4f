"""What the dashboard page (`/`) shows: live jobs, providers with stake and reputation, throughput, verification, and the
requests agents paid by voucher."""

from __future__ import annotations

import time
from collections import Counter
from importlib import resources

from solders.pubkey import Pubkey
from sqlalchemy import func, select

from marketplace.aggregator import models as m
from marketplace.chain import ProviderAccount
from marketplace.vocabulary import ShardStatus, VoucherStatus

RECENT_JOBS = 20
THROUGHPUT_WINDOW = 60  # seconds over which shards per second are averaged


def page() -> str:
    return resources.files("marketplace.aggregator").joinpath("dashboard.html").read_text()


def reputation(provider: m.Provider) -> float:
    """Share of its work that came back in time and right: 1.0 for a clean record."""
    attempts = provider.tasks_done + provider.timeouts
    return 1.0 if attempts == 0 else max(0.0, 1 - (provider.faults + provider.timeouts) / attempts)


async def snapshot(service) -> dict:
    now = int(time.time())
    async with service.sessions() as session:
        jobs = (await session.execute(select(m.Job).order_by(m.Job.created_at.desc()).limit(RECENT_JOBS))).scalars().all()
        progress = dict((await session.execute(
            select(m.Shard.job, func.count()).where(m.Shard.job.in_([j.address for j in jobs]),
                                                    m.Shard.status.in_((ShardStatus.VERIFIED, ShardStatus.CACHED))).group_by(m.Shard.job))).all())
        providers = (await session.execute(select(m.Provider).order_by(m.Provider.registered_at))).scalars().all()
        verification = Counter(dict((await session.execute(
            select(m.Shard.verification, func.count()).where(m.Shard.verification.is_not(None))
            .group_by(m.Shard.verification))).all()))
        recent = (await session.execute(select(func.count()).select_from(m.Shard).where(
            m.Shard.decided_at >= now - THROUGHPUT_WINDOW))).scalar_one()
        faults = (await session.execute(select(func.count()).select_from(m.Task).where(m.Task.fault.is_(True)))).scalar_one()
        paid = (await session.execute(select(m.Voucher).order_by(m.Voucher.created_at.desc()).limit(RECENT_JOBS))).scalars().all()
        paid_recently = (await session.execute(select(func.count()).select_from(m.Voucher).where(
            m.Voucher.status == VoucherStatus.CLAIMED, m.Voucher.created_at >= now - THROUGHPUT_WINDOW))).scalar_one()
    market = await service.market_account()
    rows = []
    for provider in providers:
        account = await service.chain.fetch(ProviderAccount, Pubkey.from_string(provider.address))
        rows.append({
            "owner": provider.owner, "stake": account.stake if account else 0, "locked": account.locked_stake if account else 0,
            "status": account.status.name.lower() if account else "gone", "slashed_shards": account.shards_slashed if account else 0,
            "tasks_done": provider.tasks_done, "faults": provider.faults, "timeouts": provider.timeouts,
            "reputation": round(reputation(provider), 3), "capacity": provider.capacity, "last_seen": provider.last_seen,
            "live": service.is_live(provider),
            "models": provider.models,
        })
    return {
        "market": {"address": str(service.market), "sampling_rate_bps": market.sampling_rate_bps, "fee_bps": market.fee_bps,
                   "min_stake": market.min_stake, "jobs_created": market.jobs_created},
        "jobs": [{"job": j.address, "status": j.status, "kind": j.kind, "shards": j.shard_count,
                  "done": progress.get(j.address, 0), "cache_hits": j.cache_hits, "created_at": j.created_at,
                  "error": j.last_error} for j in jobs],
        "providers": rows,
        "shards_per_second": round(recent / THROUGHPUT_WINDOW, 3),
        "verification": dict(verification), "faults": faults, "now": now,
        "paid_requests": [{"job": v.job, "channel": v.channel, "voucher": v.amount, "status": v.status,
                           "created_at": v.created_at} for v in paid],
        "paid_requests_per_second": round(paid_recently / THROUGHPUT_WINDOW, 3),
    }
