"""What a shard's runs decide, without a database or a chain (marketplace.aggregator.decisions)."""

from __future__ import annotations

from marketplace.aggregator.decisions import Decision, RefereeRequest, Run, Shard, decide
from marketplace.digests import DecodingParams, embedding_digest, generation_digest, input_digest
from marketplace.verification import CheckOutcome, check_digest
from marketplace.vocabulary import Kind, Role, TaskStatus, Verification

MODEL = "ab" * 32
PROMPT = {"prompt": "two plus two"}
PARAMS = {"max_new_tokens": 3}
GENERATE = Shard(Kind.GENERATE, MODEL, input_digest(PROMPT).hex(), PARAMS, tie_tolerance=1e-3)
TOKENS = [5, 9, 7]


def primary(tokens=TOKENS, digest_of=None, status=TaskStatus.DONE, **fields) -> Run:
    digest = generation_digest(bytes.fromhex(MODEL), input_digest(PROMPT), DecodingParams(**PARAMS), digest_of or tokens).hex()
    return Run(1, Role.PRIMARY, status, "alice", digest, {"token_ids": tokens, "text": ""}, **fields)


def checks(*argmax: int) -> dict:
    """Teacher-forced checks of TOKENS: at each position the model's top token, clear gaps."""
    return {"checks": [[[a, 5.0, 0.0 if a == t else 3.0] for a, t in zip(argmax, TOKENS)]]}


def replica(finding: CheckOutcome, output: dict, status=TaskStatus.DONE) -> Run:
    digest = check_digest(bytes.fromhex(primary().digest), finding).hex()
    return Run(2, Role.REPLICA, status, "bob", digest, output)


def referee(output: dict, status=TaskStatus.DONE) -> Run:
    return Run(3, Role.REFEREE, status, "carol", None, output, claims=[{"owner": "alice"}], excluded=("alice", "bob"))


def test_an_unsampled_honest_primary_is_verified():
    assert decide(GENERATE, [primary()]) == Decision(faults={1: False}, verified=(1, Verification.UNSAMPLED))


def test_nothing_is_decided_while_the_primary_runs():
    assert decide(GENERATE, [primary(status=TaskStatus.CLAIMED)]) == Decision()


def test_a_digest_that_is_not_its_output_is_a_fault_and_the_shard_reruns():
    liar = primary(digest_of=[1, 2, 3])
    waiting = replica(CheckOutcome.CONSISTENT, {}, status=TaskStatus.WAITING)
    assert decide(GENERATE, [liar, waiting]) == Decision(faults={1: True}, cancel={2}, rerun=[1])


def test_a_waiting_replica_is_queued_with_the_claim_it_checks():
    decision = decide(GENERATE, [primary(), replica(CheckOutcome.CONSISTENT, {}, status=TaskStatus.WAITING)])
    assert list(decision.queue) == [2] and decision.queue[2][0]["digest"] == primary().digest
    assert decision.verified is None and not decision.faults


def test_a_replica_that_agrees_verifies_the_shard():
    decision = decide(GENERATE, [primary(), replica(CheckOutcome.CONSISTENT, checks(5, 9, 7))])
    assert decision == Decision(faults={1: False, 2: False}, verified=(1, Verification.CHECKED))


def test_a_replica_whose_check_is_not_what_it_committed_is_at_fault():
    decision = decide(GENERATE, [primary(), replica(CheckOutcome.INCONSISTENT, checks(5, 9, 7))])
    assert decision == Decision(faults={2: True, 1: False}, verified=(1, Verification.UNCHECKED))


def test_a_check_that_finds_a_lie_goes_to_a_referee_of_a_third_owner():
    decision = decide(GENERATE, [primary(), replica(CheckOutcome.INCONSISTENT, checks(5, 4, 7))])
    assert decision.referee == RefereeRequest(decision.referee.claims, frozenset({"alice", "bob"}))
    assert decision.referee.claims[0]["owner"] == "alice" and decision.verified is None


def test_the_referee_confirms_the_lie_the_primary_is_at_fault_and_its_finding_is_evidence():
    runs = [primary(), replica(CheckOutcome.INCONSISTENT, checks(5, 4, 7)), referee(checks(5, 4, 7))]
    decision = decide(GENERATE, runs)
    assert decision.faults == {3: False, 1: True, 2: False} and decision.rerun == [1, 2]
    assert decision.digests == {3: check_digest(bytes.fromhex(primary().digest), CheckOutcome.INCONSISTENT).hex()}


def test_the_referee_clears_an_accused_primary_the_replica_is_at_fault():
    runs = [primary(), replica(CheckOutcome.INCONSISTENT, checks(5, 4, 7)), referee(checks(5, 9, 7))]
    decision = decide(GENERATE, runs)
    assert decision.faults == {3: False, 1: False, 2: True} and decision.verified == (1, Verification.REFEREE)
    assert decision.digests[3] != runs[1].digest  # it differs from what the slashed replica committed


def test_an_unusable_referee_is_replaced_by_one_of_another_owner():
    runs = [primary(), replica(CheckOutcome.INCONSISTENT, checks(5, 4, 7)), referee({"checks": "nonsense"})]
    decision = decide(GENERATE, runs)
    assert decision.faults == {3: True}
    assert decision.referee.excluded == {"alice", "bob", "carol"} and decision.referee.attempt == 1


EMBED = Shard(Kind.EMBED, MODEL, input_digest({"text": "a cat"}).hex(), None, tie_tolerance=1e-3)


def vector_run(id: int, owner: str, vector: list[float], role=Role.PRIMARY, honest=True) -> Run:
    digest = embedding_digest(bytes.fromhex(MODEL), input_digest({"text": "a cat"}), vector if honest else [9.0]).hex()
    return Run(id, role, TaskStatus.DONE, owner, digest, {"vector": vector})


def test_embeddings_that_agree_verify_the_shard():
    runs = [vector_run(1, "alice", [0.6, 0.8]), vector_run(2, "bob", [0.6, 0.8], Role.REPLICA)]
    assert decide(EMBED, runs) == Decision(faults={1: False, 2: False}, verified=(1, Verification.REPLICA_AGREED))


def test_embeddings_that_differ_go_to_a_referee_who_judges_them():
    runs = [vector_run(1, "alice", [0.6, 0.8]), vector_run(2, "bob", [0.8, -0.6], Role.REPLICA)]
    asked = decide(EMBED, runs)
    assert asked.referee.excluded == {"alice", "bob"} and len(asked.referee.claims) == 2
    judge = Run(3, Role.REFEREE, TaskStatus.DONE, "carol", None, {"vector": [0.6, 0.8]}, claims=asked.referee.claims)
    decision = decide(EMBED, runs + [judge])
    assert decision.faults == {3: False, 1: False, 2: True} and decision.verified == (1, Verification.REFEREE)
    assert decision.digests == {3: embedding_digest(bytes.fromhex(MODEL), input_digest({"text": "a cat"}), [0.6, 0.8]).hex()}


def test_an_embedding_whose_digest_is_not_its_vector_is_a_fault():
    runs = [vector_run(1, "alice", [0.6, 0.8]), vector_run(2, "bob", [0.6, 0.8], Role.REPLICA, honest=False)]
    assert decide(EMBED, runs) == Decision(faults={2: True, 1: False}, verified=(1, Verification.UNCHECKED))
    assert decide(EMBED, [vector_run(1, "alice", [0.6, 0.8], honest=False)]) == Decision(faults={1: True}, rerun=[1])
