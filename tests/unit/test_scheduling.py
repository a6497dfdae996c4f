"""Scheduling: spread by throughput, replicas on other owners, stake respected."""

from __future__ import annotations

import os

import pytest

from marketplace.aggregator.scheduling import Candidate, Placement, place, sampled_shards
from marketplace.economics import execution_budget
from marketplace.vocabulary import Role


def test_budget_matches_the_program():
    assert execution_budget(8, 1_000) == 9 and execution_budget(2, 1_000) == 3 and execution_budget(10, 0) == 10


def test_sampled_shards_are_capped_by_budget():
    seed = os.urandom(32)
    assert len(sampled_shards(seed, "J", 100, 10_000, execution_budget(100, 1_000))) == 10
    assert sampled_shards(seed, "J", 100, 0, 100) == []


def test_primaries_spread_by_capacity_and_replicas_avoid_the_primary():
    candidates = [Candidate("a", 4, 10**9, 0.0), Candidate("b", 2, 10**9, 0.0), Candidate("c", 2, 10**9, 0.0)]
    placements = place(8, [0, 3, 5], candidates, 1_000)
    primaries = {p.shard: p.owner for p in placements if p.role == "primary"}
    counts = {o: list(primaries.values()).count(o) for o in "abc"}
    assert counts == {"a": 4, "b": 2, "c": 2}
    for p in placements:
        if p.role == "replica":
            assert p.owner != primaries[p.shard]


def test_slow_or_timing_out_providers_get_less():
    fast, slow = Candidate("fast", 2, 10**9, 0.1), Candidate("slow", 2, 10**9, 5.0, timeouts=3)
    owners = [p.owner for p in place(10, [], [fast, slow], 1)]
    assert owners.count("fast") > owners.count("slow")


def test_stake_limits_and_errors():
    with pytest.raises(ValueError, match="no provider"):
        place(1, [], [Candidate("poor", 4, 10, 0.0)], 1_000)
    # A replica needs another owner: with none, it is left for one that comes (or dropped), not the job refused.
    assert place(1, [0], [Candidate("alone", 4, 10**9, 0.0)], 1) == [
        Placement(0, Role.PRIMARY, "alone"), Placement(0, Role.REPLICA, None, ("alone",))]
    placements = place(3, [], [Candidate("a", 8, 2_000, 0.0), Candidate("b", 8, 1_000, 0.0)], 1_000)
    assert sorted(p.owner for p in placements) == ["a", "a", "b"]


def test_a_newcomer_is_assumed_typical_not_infinitely_fast():
    veteran = Candidate("veteran", 32, 10**12, seconds_per_task=15.0)
    newcomer = Candidate("newcomer", 32, 10**12, seconds_per_task=0.0)
    owners = [p.owner for p in place(64, [], [veteran, newcomer], 1)]
    assert owners.count("veteran") == owners.count("newcomer") == 32


def test_one_shard_requests_go_round_the_providers_by_what_each_has_waiting():
    """Requests of one shard each, placed one at a time, spread as their predecessors' work waits on each provider:
    the least busy takes the next, not always the same one."""
    backlog = {"a": 0, "b": 0, "c": 0}
    for _ in range(9):
        [placement] = place(1, [], [Candidate(o, 8, 10**9, 0.0, backlog=n) for o, n in backlog.items()], 1_000)
        backlog[placement.owner] += 1
    assert backlog == {"a": 3, "b": 3, "c": 3}
    [placement] = place(1, [], [Candidate("a", 8, 10**9, 0.0, backlog=5), Candidate("b", 8, 10**9, 0.0, backlog=1)], 1_000)
    assert placement.owner == "b"
