"""Sampling, generation checks with near-ties, and verdicts."""

from __future__ import annotations

import os

from marketplace.chain.accounts import Verdict
from marketplace.verification import (
    CheckOutcome,
    TokenCheck,
    check_generation,
    is_sampled,
    provider_verdicts,
    seed_commitment,
)


def test_sampling_rate_matches_the_rate_and_is_reproducible():
    seed = os.urandom(32)
    draws = [is_sampled(seed, "JobA", shard, 1_000) for shard in range(20_000)]
    assert 0.09 < sum(draws) / len(draws) < 0.11
    assert draws == [is_sampled(seed, "JobA", shard, 1_000) for shard in range(20_000)]
    assert draws != [is_sampled(os.urandom(32), "JobA", shard, 1_000) for shard in range(20_000)]
    assert not any(is_sampled(seed, "JobA", s, 0) for s in range(1000))
    assert all(is_sampled(seed, "JobA", s, 10_000) for s in range(1000))
    assert len(seed_commitment(seed)) == 32


def check(argmax, gap=5.0, claimed_gap=0.0):
    return TokenCheck(argmax, gap, claimed_gap)


def test_consistent_generation():
    result = check_generation([5, 6, 7], [check(5), check(6), check(7)])
    assert (result.outcome, result.first_divergence) == (CheckOutcome.CONSISTENT, None)


def test_near_tie_divergence_is_a_tie_not_a_lie():
    result = check_generation([5, 9, 7], [check(5), check(6, gap=1e-5, claimed_gap=1e-5), check(7)])
    assert (result.outcome, result.first_divergence) == (CheckOutcome.TIE, 1)


def test_clear_divergence_is_inconsistent():
    result = check_generation([5, 9, 7], [check(5), check(6, claimed_gap=3.2), check(7)])
    assert (result.outcome, result.first_divergence) == (CheckOutcome.INCONSISTENT, 1)
    assert check_generation([5, 6], [check(5)]).outcome is CheckOutcome.INCONSISTENT


def test_provider_verdicts():
    verdicts = provider_verdicts({"alice": [0, 1], "mallory": [2, 3], "idle": []}, {"mallory": [3]})
    assert [(v.provider_owner, v.verdict, v.accepted) for v in verdicts] == [
        ("alice", Verdict.PAY, frozenset({0, 1})),
        ("idle", Verdict.REJECT, frozenset()),
        ("mallory", Verdict.SLASH, frozenset({2})),
    ]
