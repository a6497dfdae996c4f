"""Who runs what: pure functions from providers, shards and the sampling seed to tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from marketplace.verification import is_sampled
from marketplace.vocabulary import Role


@dataclass(frozen=True)
class Candidate:
    owner: str
    capacity: int  # shards it runs at once
    free_stake: int  # lamports not locked by open work
    seconds_per_task: float  # observed; 0 until it has done any
    timeouts: int = 0
    backlog: int = 0  # tasks placed on it and not yet returned


@dataclass(frozen=True)
class Placement:
    shard: int
    role: Role
    owner: str | None  # None: a replica no other owner can take now, left for one that comes (or dropped)
    excluded: tuple[str, ...] = ()  # owners that may not take it: its primary's


def sampled_shards(seed: bytes, job: str, shard_count: int, rate_bps: int, budget: int) -> list[int]:
    """Shards that get a replica: drawn from the seed, capped by the replicas the escrow pays for."""
    extra = budget - shard_count
    drawn = [s for s in range(shard_count) if is_sampled(seed, job, s, rate_bps)]
    return drawn[: max(extra, 0)]


def _weight(c: Candidate) -> float:
    """Throughput we expect: declared capacity, slowed by observed latency and timeouts."""
    speed = 1.0 / (1.0 + c.seconds_per_task)
    return c.capacity * speed / (1 + c.timeouts)


def place(shard_count: int, sampled: Sequence[int], candidates: Sequence[Candidate], collateral_per_shard: int) -> list[Placement]:
    """Spreads primaries by expected throughput and puts each replica on another owner. A replica no other owner
    can take is left unplaced, as the service treats one whose owner left: placed when a second owner comes, or
    dropped (its shard unchecked) while none is live. Raises ValueError when no provider can take the primaries."""
    eligible = [c for c in candidates if c.free_stake >= collateral_per_shard and c.capacity > 0]
    if not eligible:
        raise ValueError("no provider with the model and enough free stake")
    load = {c.owner: float(c.backlog) for c in eligible}
    stake_left = {c.owner: c.free_stake for c in eligible}
    # A provider with no history is assumed as fast as the typical one, not infinitely fast:
    # otherwise a newcomer is handed most of every job.
    known = sorted(c.seconds_per_task for c in eligible if c.seconds_per_task > 0)
    typical = known[len(known) // 2] if known else 0.0
    weights = {c.owner: _weight(c if c.seconds_per_task > 0 else replace(c, seconds_per_task=typical)) for c in eligible}

    def pick(exclude: set[str]) -> str | None:
        options = [o for o in load if o not in exclude and stake_left[o] >= collateral_per_shard]
        if not options:
            return None
        owner = min(options, key=lambda o: ((load[o] + 1) / weights[o], o))
        load[owner] += 1
        stake_left[owner] -= collateral_per_shard
        return owner

    placements, primaries = [], {}
    for shard in range(shard_count):
        primaries[shard] = pick(set())
        if primaries[shard] is None:
            raise ValueError("not enough providers with free stake for this job")
        placements.append(Placement(shard, Role.PRIMARY, primaries[shard]))
    for shard in sampled:
        placements.append(Placement(shard, Role.REPLICA, pick({primaries[shard]}), (primaries[shard],)))
    return placements
