"""Verification by redundant sampling: which shards are checked, and what a check decides.

Pure functions: the aggregator fetches outputs and runs checks on providers,
then asks these what to pay, reject or slash.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from marketplace.chain.accounts import Verdict
from marketplace.chain.instructions import SlashEvidence
from marketplace.economics import BPS, bps_ceil

DEFAULT_TIE_TOLERANCE = 1e-3  # logits: a top-2 gap below this is a near-tie, not a lie


def seed_commitment(seed: bytes) -> bytes:
    """What the Job account holds until settle reveals the seed."""
    return hashlib.sha256(seed).digest()


def is_sampled(seed: bytes, job: str, shard: int, rate_bps: int) -> bool:
    """Whether `shard` gets a replica: uniform in [0, 1) from the secret seed, below the rate.
    Anyone can recompute it once the seed is revealed; no provider can before."""
    draw = hashlib.sha256(seed + job.encode() + shard.to_bytes(4, "little")).digest()
    return int.from_bytes(draw[:8], "little") * BPS < rate_bps * 2**64


def epoch_sampled(seed: bytes, job: str, channel: str, shard_count: int, rate_bps: int) -> list[int]:
    """Which of a channel's first `shard_count` shards in an epoch job get a replica, by their place among the
    channel's shards (which, unlike their index, is known when each is served): drawn from the seed, each within
    the replicas the channel's escrow for the shards up to it pays for. Growing `shard_count` never changes the
    draws before it, and the chain's epoch entries give every shard's channel and place, so anyone can audit it."""
    sampled: list[int] = []
    for seq in range(shard_count):
        draw = hashlib.sha256(seed + job.encode() + channel.encode() + seq.to_bytes(4, "little")).digest()
        if int.from_bytes(draw[:8], "little") * BPS < rate_bps * 2**64 and len(sampled) < bps_ceil(seq + 1, rate_bps):
            sampled.append(seq)
    return sampled


@dataclass(frozen=True)
class TokenCheck:
    """One position of a teacher-forced pass over prompt + claimed tokens."""

    argmax: int  # the model's top token here
    top2_gap: float  # logit(top-1) - logit(top-2)
    claimed_gap: float  # logit(argmax) - logit(claimed token); 0 when they are equal


class CheckOutcome(enum.Enum):
    CONSISTENT = "consistent"  # every claimed token is the model's choice
    TIE = "tie"  # differs only where the model was within the tolerance of a tie
    INCONSISTENT = "inconsistent"  # a claimed token the model would not have produced


@dataclass(frozen=True)
class GenerationCheck:
    outcome: CheckOutcome
    first_divergence: int | None  # position of the first claimed token that is not the argmax


def check_generation(claimed: Sequence[int], checks: Sequence[TokenCheck], tolerance: float = DEFAULT_TIE_TOLERANCE) -> GenerationCheck:
    """Judges claimed greedy tokens against a teacher-forced pass over them."""
    if len(checks) != len(claimed):
        return GenerationCheck(CheckOutcome.INCONSISTENT, min(len(checks), len(claimed)))
    first, outcome = None, CheckOutcome.CONSISTENT
    for position, (token, check) in enumerate(zip(claimed, checks)):
        if token == check.argmax:
            continue
        first = position if first is None else first
        if check.claimed_gap > tolerance:
            return GenerationCheck(CheckOutcome.INCONSISTENT, position)
        outcome = CheckOutcome.TIE
    return GenerationCheck(outcome, first)


def check_digest(claimed_digest: bytes, outcome: CheckOutcome) -> bytes:
    """What a checking replica commits to on chain: the claim it checked and its finding."""
    return hashlib.sha256(b"tessera/check/v1\0" + claimed_digest + outcome.value.encode()).digest()


@dataclass(frozen=True)
class AssignmentVerdict:
    """What settles one provider's pending submission: what to pay, and the evidence of a fault if it is slashed."""

    verdict: Verdict
    accepted: frozenset[int]
    evidence: SlashEvidence | None = None


def assignment_verdict(pending: Iterable[int], undecided: Iterable[int], faulty: Iterable[int],
                       committed: Mapping[int, bytes] | None, referee_digests: Mapping[int, bytes]) -> AssignmentVerdict:
    """Pays the shards served honestly and decided; slashes only with evidence the program checks and anyone can
    audit: a faulty shard's committed digest (a leaf of the results root) and a referee's different digest.

    `committed` is None when the results root is not the root of the digests the provider posted: nothing then proves
    what it committed for any shard, so its work is rejected (unpaid, collateral released) but not slashed; so is a
    fault no referee judged (an unusable output, a check that was not the one committed)."""
    faulty = set(faulty)
    if committed is None:
        return AssignmentVerdict(Verdict.REJECT, frozenset())
    accepted = frozenset(set(pending) - set(undecided) - faulty)
    for shard in sorted(faulty):
        referee = referee_digests.get(shard)
        if referee is not None and referee != committed[shard]:
            return AssignmentVerdict(Verdict.SLASH, accepted, SlashEvidence.build(committed, shard, referee))
    return AssignmentVerdict(Verdict.PAY if accepted else Verdict.REJECT, accepted)
