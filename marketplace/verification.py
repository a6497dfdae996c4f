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

BPS = 10_000
DEFAULT_TIE_TOLERANCE = 1e-3  # logits: a top-2 gap below this is a near-tie, not a lie


def seed_commitment(seed: bytes) -> bytes:
    """What the Job account holds until settle reveals the seed."""
    return hashlib.sha256(seed).digest()


def is_sampled(seed: bytes, job: str, shard: int, rate_bps: int) -> bool:
    """Whether `shard` gets a replica: uniform in [0, 1) from the secret seed, below the rate.
    Anyone can recompute it once the seed is revealed; no provider can before."""
    draw = hashlib.sha256(seed + job.encode() + shard.to_bytes(4, "little")).digest()
    return int.from_bytes(draw[:8], "little") * BPS < rate_bps * 2**64


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
class ProviderVerdict:
    provider_owner: str
    verdict: Verdict
    accepted: frozenset[int]


def provider_verdicts(submitted: Mapping[str, Iterable[int]], faulty: Mapping[str, Iterable[int]]) -> list[ProviderVerdict]:
    """Per provider: pay the shards it served honestly; slash it if any shard was a fault."""
    verdicts = []
    for owner, shards in sorted(submitted.items()):
        bad = set(faulty.get(owner, ()))
        good = frozenset(set(shards) - bad)
        if bad:
            verdicts.append(ProviderVerdict(owner, Verdict.SLASH, good))
        elif good:
            verdicts.append(ProviderVerdict(owner, Verdict.PAY, good))
        else:
            verdicts.append(ProviderVerdict(owner, Verdict.REJECT, frozenset()))
    return verdicts
