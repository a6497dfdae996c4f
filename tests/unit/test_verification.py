"""Sampling, generation checks with near-ties, and verdicts."""

from __future__ import annotations

import os

from marketplace.chain.accounts import Verdict
from marketplace.merkle import ProofStep, merkle_root, verify_proof
from marketplace.verification import (
    AssignmentVerdict,
    CheckOutcome,
    TokenCheck,
    assignment_verdict,
    check_generation,
    is_sampled,
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


def digest(n: int) -> bytes:
    return bytes([n]) * 32


COMMITTED = {2: digest(2), 3: digest(3), 5: digest(5)}


def test_assignment_verdict_pays_honest_decided_shards():
    assert assignment_verdict([2, 3, 5], [], [], COMMITTED, {}) == AssignmentVerdict(Verdict.PAY, frozenset({2, 3, 5}))
    assert assignment_verdict([2, 3, 5], [5], [], COMMITTED, {}).accepted == {2, 3}  # undecided past the deadline
    assert assignment_verdict([5], [5], [], {5: digest(5)}, {}) == AssignmentVerdict(Verdict.REJECT, frozenset())


def test_assignment_verdict_slashes_with_evidence_that_proves_against_the_root():
    verdict = assignment_verdict([2, 3, 5], [], [3], COMMITTED, {3: digest(9)})
    assert (verdict.verdict, verdict.accepted) == (Verdict.SLASH, frozenset({2, 5}))
    evidence = verdict.evidence
    assert (evidence.shard, evidence.committed_digest, evidence.referee_digest) == (3, digest(3), digest(9))
    steps = [ProofStep(sibling, sibling_is_left=i == 0) for i, sibling in enumerate(evidence.proof)]
    assert verify_proof(merkle_root([digest(2), digest(3), digest(5)]), digest(3), steps)


def test_assignment_verdict_never_slashes_without_evidence():
    """A fault no referee judged, a referee that agreed, or a root that is not the posted digests': rejected, not slashed."""
    assert assignment_verdict([2, 3, 5], [], [3], COMMITTED, {}) == AssignmentVerdict(Verdict.PAY, frozenset({2, 5}))
    assert assignment_verdict([3], [], [3], COMMITTED, {3: digest(3)}) == AssignmentVerdict(Verdict.REJECT, frozenset())
    assert assignment_verdict([2, 3, 5], [], [], None, {3: digest(9)}) == AssignmentVerdict(Verdict.REJECT, frozenset())
