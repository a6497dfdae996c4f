"""What a shard's finished runs decide: pure functions, runs in and a decision out; the conductor applies it.

    generation   primary, then (if sampled) a replica's teacher-forced check of its tokens, then (if the check
                 finds a lie) a referee's check; the side the referee contradicts is at fault
    embedding    primary and (if sampled) a replica that recomputes; if both vectors are well-formed and differ,
                 a referee recomputes and the runs it disagrees with are at fault

A run whose output is missing, malformed or not what its digest says is at fault without a referee (and is then
rejected, not slashed: settlement needs a referee's finding as evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marketplace.aggregator.errors import BadRequest
from marketplace.aggregator.outputs import parse_checks, parse_params, result_digest
from marketplace.digests import embeddings_agree
from marketplace.verification import CheckOutcome, check_digest, check_generation
from marketplace.vocabulary import GENERATIVE, Kind, Role, TaskStatus, Verification


@dataclass(frozen=True)
class Run:
    """A task of the shard, as a decision sees it."""

    id: int
    role: Role
    status: TaskStatus
    owner: str | None
    digest: str | None
    output: Any
    fault: bool | None = None  # None: not judged yet
    claims: list[dict] | None = None
    attempt: int = 0
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shard:
    """What is known of the shard itself."""

    kind: Kind
    model_digest: str  # hex
    input_digest: str  # hex
    params: Any  # the job's decoding parameters as stored
    tie_tolerance: float


@dataclass(frozen=True)
class RefereeRequest:
    claims: list[dict]
    excluded: frozenset[str]  # owners that may not judge
    attempt: int = 0


@dataclass
class Decision:
    """What to write; empty when the shard waits for more runs."""

    faults: dict[int, bool] = field(default_factory=dict)  # run id -> at fault
    cancel: set[int] = field(default_factory=set)  # runs no longer needed
    queue: dict[int, list[dict]] = field(default_factory=dict)  # waiting replica -> the claim it checks, now queued
    digests: dict[int, str] = field(default_factory=dict)  # referee -> its finding's digest (a slash's evidence)
    verified: tuple[int, Verification] | None = None  # the run whose result the shard takes, and how it was verified
    referee: RefereeRequest | None = None
    rerun: list[int] | None = None  # runs a new primary must avoid (their owners)


def decide(shard: Shard, runs: Sequence[Run]) -> Decision:
    """Runs that were expired, declined or cancelled are not passed in."""
    return decide_generation(shard, runs) if shard.kind in GENERATIVE else decide_embedding(shard, runs)


def honest_output(shard: Shard, run: Run) -> bool:
    """The output arrived, is well-formed, and is what the committed digest says."""
    if run.output is None or run.digest is None:
        return False
    try:
        params = parse_params(shard.kind, shard.params or None)
        return result_digest(shard.kind, bytes.fromhex(shard.model_digest), bytes.fromhex(shard.input_digest), params,
                             run.output).hex() == run.digest
    except BadRequest:
        return False


def _check_outcome(shard: Shard, primary: Run, output: Any) -> CheckOutcome | None:
    try:
        [checks] = parse_checks(output, 1)
    except BadRequest:
        return None
    return check_generation(primary.output["token_ids"], checks, shard.tie_tolerance).outcome


def _judged(runs: Sequence[Run], role: Role) -> Run | None:
    return next((r for r in runs if r.role == role and r.fault is None), None)


def decide_generation(shard: Shard, runs: Sequence[Run]) -> Decision:
    decision = Decision()
    primary, replica, referee = (_judged(runs, role) for role in (Role.PRIMARY, Role.REPLICA, Role.REFEREE))
    if primary is None or primary.status != TaskStatus.DONE:
        return decision
    if not honest_output(shard, primary):  # a digest without (its) output
        decision.faults[primary.id] = True
        if replica is not None:
            decision.cancel.add(replica.id)
        decision.rerun = [primary.id]
        return decision
    if replica is None:
        decision.faults[primary.id] = False
        decision.verified = (primary.id, Verification.UNSAMPLED)
        return decision
    claim = [{"owner": primary.owner, "output": primary.output, "digest": primary.digest}]
    if replica.status == TaskStatus.WAITING:
        decision.queue[replica.id] = claim
        return decision
    if replica.status != TaskStatus.DONE:
        return decision
    finding = _check_outcome(shard, primary, replica.output)
    if finding is None or check_digest(bytes.fromhex(primary.digest), finding).hex() != replica.digest:
        decision.faults.update({replica.id: True, primary.id: False})  # no usable check, or not the one committed
        decision.verified = (primary.id, Verification.UNCHECKED)
        return decision
    if finding is not CheckOutcome.INCONSISTENT:
        decision.faults.update({primary.id: False, replica.id: False})
        decision.verified = (primary.id, Verification.CHECKED)
        return decision
    if referee is None:
        decision.referee = RefereeRequest(claim, frozenset({primary.owner, replica.owner}))
        return decision
    if referee.status != TaskStatus.DONE:
        return decision
    verdict = _check_outcome(shard, primary, referee.output)
    if verdict is None:
        decision.faults[referee.id] = True
        decision.referee = _another_referee(referee)
        return decision
    decision.faults[referee.id] = False
    # Its finding as a checking replica would commit it: a slash's evidence against whichever run it contradicts.
    decision.digests[referee.id] = check_digest(bytes.fromhex(primary.digest), verdict).hex()
    if verdict is CheckOutcome.INCONSISTENT:  # the checker was right: the primary lied
        decision.faults.update({primary.id: True, replica.id: False})
        decision.rerun = [primary.id, replica.id]
    else:  # the checker accused an honest primary
        decision.faults.update({primary.id: False, replica.id: True})
        decision.verified = (primary.id, Verification.REFEREE)
    return decision


def decide_embedding(shard: Shard, runs: Sequence[Run]) -> Decision:
    decision = Decision()
    if any(r.status != TaskStatus.DONE for r in runs):
        return decision
    computed = [r for r in runs if r.role != Role.REFEREE and r.fault is None]
    referee = _judged(runs, Role.REFEREE)
    if referee is not None:
        return _judge_embeddings(shard, computed, referee)
    usable = [r for r in computed if honest_output(shard, r)]
    decision.faults.update({r.id: True for r in computed if r not in usable})  # a digest without (its) output
    if len(usable) == len(computed) and len({r.digest for r in usable}) == 1:
        decision.faults.update({r.id: False for r in usable})
        decision.verified = (usable[0].id, Verification.REPLICA_AGREED if len(usable) > 1 else Verification.UNSAMPLED)
    elif len(usable) == 1 and len(computed) == 2:  # the other run was unusable: no second opinion
        decision.faults[usable[0].id] = False
        decision.verified = (usable[0].id, Verification.UNCHECKED)
    elif len(usable) == 2:  # two well-formed, different vectors: ask a third provider
        decision.referee = RefereeRequest([{"owner": r.owner, "output": r.output} for r in usable],
                                          frozenset(r.owner for r in usable))
    else:  # nothing usable: run it again elsewhere
        decision.rerun = [r.id for r in computed]
    return decision


def _judge_embeddings(shard: Shard, computed: Sequence[Run], referee: Run) -> Decision:
    decision = Decision()
    claims = referee.claims or []
    try:
        vector = referee.output["vector"]
        agrees = {c["owner"]: embeddings_agree(c["output"]["vector"], vector) for c in claims}
        digest = result_digest(shard.kind, bytes.fromhex(shard.model_digest), bytes.fromhex(shard.input_digest), None,
                               referee.output).hex()
    except (BadRequest, KeyError, TypeError):
        decision.faults[referee.id] = True  # an unusable recomputation: ask another referee
        decision.referee = _another_referee(referee)
        return decision
    decision.faults[referee.id] = False
    decision.digests[referee.id] = digest  # what it computed: a slash's evidence against a run that disagreed
    for run in computed:
        decision.faults[run.id] = agrees.get(run.owner) is False
    good = [r for r in computed if not decision.faults[r.id]]
    if good:
        decision.verified = (good[0].id, Verification.REFEREE)
    else:
        decision.rerun = [r.id for r in computed]
    return decision


def _another_referee(referee: Run) -> RefereeRequest:
    """A referee whose check was unusable is replaced, and may not take it again."""
    return RefereeRequest(referee.claims or [], frozenset(referee.excluded) | {referee.owner}, referee.attempt + 1)
