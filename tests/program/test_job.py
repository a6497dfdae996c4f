"""create_job, submit_results, settle, cancel_job, refund, close_job, close_assignment in the real runtime."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from marketplace.chain import (
    AssignmentAccount,
    AssignmentStatus,
    JobAccount,
    MarketAccount,
    ProviderAccount,
    ProviderStatus,
    Verdict,
    assignment_address,
    job_address,
    market_address,
)
from localnet import LocalRuntime
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import MAX_SHARDS
from marketplace.chain.program import account_size
from marketplace.chain.instructions import Settlement
from marketplace.economics import execution_budget, job_escrow
from marketplace.merkle import merkle_root
from tests.program.conftest import FEE_PER_SIGNATURE, SOL, TREASURY, Balances, MarketFixture, config, create_job, expect_error

JOB_LEN, ASSIGNMENT_LEN = account_size("Job"), account_size("Assignment")
REFEREE_DIGEST = hashlib.sha256(b"the referee's result").digest()


def result_digest(shard: int) -> bytes:
    """What the test providers commit for a shard: the leaves of their results roots."""
    return hashlib.sha256(f"result of shard {shard}".encode()).digest()


def results_root(shards) -> bytes:
    return merkle_root([result_digest(s) for s in sorted(shards)])


ROOT = results_root({1})


def job_state(runtime, job) -> JobAccount:
    return JobAccount.decode(runtime.account_data(job.address))


def assignment_state(runtime, job, provider) -> AssignmentAccount:
    return AssignmentAccount.decode(runtime.account_data(assignment_address(job.address, provider.address)[0]))


def provider_state(runtime, provider) -> ProviderAccount:
    return ProviderAccount.decode(runtime.account_data(provider.address))


def submit(runtime, market, job, provider, shards):
    root = results_root(shards)
    return runtime.send([ix.submit_results(provider.owner.pubkey(), market.address, job.address, shards, root)], [provider.owner])


def evidence(shards, shard: int) -> ix.SlashEvidence:
    return ix.SlashEvidence.build({s: result_digest(s) for s in shards}, shard, REFEREE_DIGEST)


def slash(runtime, market, job, provider, proof: ix.SlashEvidence, accepted=(), client=None, treasury=None):
    instruction = ix.slash(market.authority.pubkey(), market.address, job.address, client or job.client.pubkey(),
                           treasury or market.config.treasury, provider.owner.pubkey(), accepted, proof)
    return runtime.send([instruction], [market.authority])


def settle(runtime, market, job, *settlements, seed=None, verifier=None, client=None, treasury=None):
    verifier = verifier or market.authority
    instruction = ix.settle(
        verifier.pubkey(), market.address, job.address, client or job.client.pubkey(),
        treasury or market.config.treasury, seed or job.seed, settlements,
    )
    return runtime.send([instruction], [verifier])


# create_job

def test_create_job_success(runtime, funded, market):
    client = funded()
    balances = Balances(runtime, client=client.pubkey())
    job = create_job(runtime, market, client, shard_count=8, price=1_000_000)

    escrow = job_escrow(1_000_000, 8, sampling_bps=1_000, fee_bps=200)
    rent = runtime.rent_exempt_minimum(JOB_LEN)
    assert balances.changes() == {"client": -(rent + escrow) - FEE_PER_SIGNATURE}
    assert runtime.balance(job.address) == rent + escrow
    state = job_state(runtime, job)
    assert (state.client, state.market, state.job_id, state.shard_count, state.escrow) == (client.pubkey(), market.address, 0, 8, escrow)
    assert (state.execution_budget, state.executions_paid, state.fee_bps, state.sampling_rate_bps) == (9, 0, 200, 1_000)
    assert state.seed_commitment == hashlib.sha256(job.seed).digest() and state.revealed_seed is None
    assert MarketAccount.decode(runtime.account_data(market.address)).jobs_created == 1


@settings(max_examples=40, deadline=None)
@given(price=st.integers(1, 10_000_000), shards=st.integers(1, 256), sampling_bps=st.integers(197, 10_000),
       fee_bps=st.integers(0, 10_000))
def test_quoted_escrow_is_what_the_program_takes(price, shards, sampling_bps, fee_bps):
    """One pricing function (marketplace.economics) for quotes and scheduling, checked against JobCreated."""
    runtime = LocalRuntime(unix_time=1_750_000_000)
    authority, client = Keypair(), Keypair()
    for key in (authority, client):
        runtime.airdrop(key.pubkey(), 100 * SOL)
    runtime.airdrop(TREASURY, runtime.rent_exempt_minimum(0))
    cfg = config(authority.pubkey(), sampling_rate_bps=sampling_bps, fee_bps=fee_bps)
    assert runtime.send([ix.initialize_market(authority.pubkey(), cfg)], [authority]).ok
    market = market_address(authority.pubkey())[0]
    outcome = runtime.send([ix.create_job(client.pubkey(), market, 1, model_digest=b"m" * 32, input_root=b"i" * 32,
                                          seed_commitment=b"s" * 32, price_per_shard=price,
                                          deadline=runtime.unix_time + 60, shard_count=shards)], [client])
    [created] = [e for e in outcome.events if e.name == "JobCreated"]
    assert created.data.escrow == job_escrow(price, shards, sampling_bps, fee_bps)
    state = JobAccount.decode(runtime.account_data(job_address(market, 1)[0]))
    assert state.execution_budget == execution_budget(shards, sampling_bps)


def test_create_job_success_concurrent_clients_choose_their_own_ids(runtime, funded, market):
    """Two clients that read the market at the same moment both create their jobs: ids are theirs to choose."""
    clients = [funded(), funded()]
    for client, job_id in zip(clients, (2**64 - 1, 7)):
        instruction = ix.create_job(client.pubkey(), market.address, job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                                    seed_commitment=b"s" * 32, price_per_shard=1, deadline=runtime.unix_time + 60, shard_count=1)
        assert runtime.send([instruction], [client]).ok
        assert JobAccount.decode(runtime.account_data(job_address(market.address, job_id)[0])).job_id == job_id
    assert MarketAccount.decode(runtime.account_data(market.address)).jobs_created == 2


def test_create_job_fail_id_taken(runtime, funded, market, job):
    client = funded()
    instruction = ix.create_job(client.pubkey(), market.address, job.job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                                seed_commitment=b"s" * 32, price_per_shard=1, deadline=runtime.unix_time + 60, shard_count=1)
    expect_error(runtime.send([instruction], [client]), "AccountAlreadyInitialized")


@pytest.mark.parametrize("field,value,error", [
    ("shard_count", 0, "InvalidShardCount"),
    ("shard_count", MAX_SHARDS + 1, "InvalidShardCount"),
    ("price_per_shard", 0, "InvalidPrice"),
    ("price_per_shard", 10_000_001, "PriceAboveMaximum"),
    ("price_per_shard", 2**64 - 1, "PriceAboveMaximum"),
    ("deadline", 0, "InvalidDeadline"),
])
def test_create_job_fail_bad_arguments(runtime, funded, market, field, value, error):
    client = funded()
    args = dict(model_digest=b"m" * 32, input_root=b"i" * 32, seed_commitment=b"s" * 32, price_per_shard=1,
                deadline=runtime.unix_time + 60, shard_count=1)
    args[field] = value
    balances = Balances(runtime, client=client.pubkey())
    expect_error(runtime.send([ix.create_job(client.pubkey(), market.address, 0, **args)], [client]), error)
    assert balances.changes() == {"client": -FEE_PER_SIGNATURE}


def test_create_job_fail_spoofed_pda(runtime, funded, market):
    client = funded()
    good = ix.create_job(client.pubkey(), market.address, 0, model_digest=b"m" * 32, input_root=b"i" * 32,
                         seed_commitment=b"s" * 32, price_per_shard=1, deadline=runtime.unix_time + 60, shard_count=1)
    spoofed = job_address(market.address, 1)[0]
    metas = [AccountMeta(spoofed if i == 2 else m.pubkey, m.is_signer, m.is_writable) for i, m in enumerate(good.accounts)]
    expect_error(runtime.send([Instruction(good.program_id, good.data, metas)], [client]), "InvalidPda")


# submit_results

def test_submit_results_success(runtime, market, job, providers):
    p = providers[0]
    rent = runtime.rent_exempt_minimum(ASSIGNMENT_LEN)
    balances = Balances(runtime, owner=p.owner.pubkey(), provider=p.address)
    outcome = submit(runtime, market, job, p, [0, 1, 2])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"owner": -rent - FEE_PER_SIGNATURE, "provider": 0}
    a = assignment_state(runtime, job, p)
    assert (a.pending_shards, a.submitted_shards, a.results_root, a.collateral, a.status) == (
        {0, 1, 2}, {0, 1, 2}, results_root({0, 1, 2}), 3 * job.price, AssignmentStatus.PENDING)
    assert provider_state(runtime, p).locked_stake == 3 * job.price
    state = job_state(runtime, job)
    assert (state.served_shards, state.pending_shards, state.pending_assignments, state.assignment_count) == ({0, 1, 2}, 3, 1, 1)
    assert outcome.events[0].name == "ResultsSubmitted"


def test_submit_results_fail_after_deadline(runtime, market, job, providers):
    runtime.advance(job.deadline - runtime.unix_time + 1)
    expect_error(submit(runtime, market, job, providers[0], [0]), "DeadlinePassed")


def test_submit_results_fail_out_of_range_and_empty(runtime, market, job, providers):
    expect_error(submit(runtime, market, job, providers[0], [job.shard_count]), "ShardOutOfRange")
    expect_error(submit(runtime, market, job, providers[0], []), "EmptyShards")


def test_submit_results_fail_twice_while_pending(runtime, market, job, providers):
    assert submit(runtime, market, job, providers[0], [0]).ok
    expect_error(submit(runtime, market, job, providers[0], [1]), "AssignmentPending")


def test_submit_results_fail_same_shards_after_settlement(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    assert settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1}))).ok
    expect_error(submit(runtime, market, job, p, [1, 2]), "DuplicateSubmission")
    assert submit(runtime, market, job, p, [2, 3]).ok  # new shards are fine


def test_submit_results_fail_insufficient_free_stake(runtime, funded, market, providers):
    # Pricier shards need a higher maximum, and then more sampling to deter faking them.
    dear = config(market.authority.pubkey(), max_price_per_shard=SOL, sampling_rate_bps=6_000)
    assert runtime.send([ix.update_market(market.authority.pubkey(), dear)], [market.authority]).ok
    big = create_job(runtime, market, funded(), shard_count=4, price=SOL)  # collateral 4 SOL > 2 SOL stake
    expect_error(submit(runtime, market, big, providers[0], [0, 1, 2]), "InsufficientFreeStake")


def test_submit_results_fail_paused_provider(runtime, market, job, providers):
    p = providers[0]
    assert runtime.send([ix.update_provider(p.owner.pubkey(), market.address, "http://a", 1, ProviderStatus.PAUSED)], [p.owner]).ok
    expect_error(submit(runtime, market, job, p, [0]), "ProviderNotActive")


def test_submit_results_fail_wrong_owner(runtime, funded, market, job, providers):
    intruder = funded()
    accounts = {"owner": intruder.pubkey(), "market": market.address, "provider": providers[0].address, "job": job.address,
                "assignment": assignment_address(job.address, providers[0].address)[0], "system_program": SYSTEM_PROGRAM_ID}
    args = {"shards": [1] + [0] * (MAX_SHARDS // 8 - 1), "results_root": list(ROOT)}
    expect_error(runtime.send([ix.build_instruction("submit_results", args, accounts)], [intruder]), "Unauthorized")


def test_submit_results_fail_job_of_another_market(runtime, funded, market, providers):
    authority = funded()
    cfg = config(authority.pubkey())
    assert runtime.send([ix.initialize_market(authority.pubkey(), cfg)], [authority]).ok
    other = MarketFixture(authority, market_address(authority.pubkey())[0], cfg)
    foreign_job = create_job(runtime, other, funded())
    expect_error(submit(runtime, market, foreign_job, providers[0], [0]), "WrongMarket")


# settle

def test_settle_success_pay(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1, 2]).ok
    balances = Balances(runtime, owner=p.owner.pubkey(), treasury=market.config.treasury, job=job.address, client=job.client.pubkey())
    outcome = settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1})))
    assert outcome.ok, outcome.logs
    paid, fee = 2 * job.price, 2 * job.price * 200 // 10_000
    assert balances.changes() == {"owner": paid, "treasury": fee, "job": -(paid + fee), "client": 0}
    a = assignment_state(runtime, job, p)
    assert (a.status, a.last_verdict, a.paid_shards, a.collateral) == (AssignmentStatus.SETTLED, Verdict.PAY, {0, 1}, 0)
    assert provider_state(runtime, p).locked_stake == 0 and provider_state(runtime, p).shards_served == 2
    state = job_state(runtime, job)
    assert (state.revealed_seed, state.paid_shards, state.executions_paid, state.pending_assignments) == (job.seed, {0, 1}, 2, 0)
    assert [e.name for e in outcome.events] == ["SeedRevealed", "AssignmentSettled"]


def test_settle_success_treasury_is_the_verifier(runtime, market, job, providers):
    """The README's market: `market init` makes one key authority, verifier and treasury."""
    authority = market.authority
    cfg = config(authority.pubkey(), treasury=authority.pubkey())
    assert runtime.send([ix.update_market(authority.pubkey(), cfg)], [authority]).ok
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    balances = Balances(runtime, owner=p.owner.pubkey(), verifier=authority.pubkey(), job=job.address)
    outcome = settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1})), treasury=authority.pubkey())
    assert outcome.ok, outcome.logs
    paid, fee = 2 * job.price, 2 * job.price * 200 // 10_000
    assert balances.changes() == {"owner": paid, "verifier": fee - FEE_PER_SIGNATURE, "job": -(paid + fee)}


def test_settle_success_slash_when_the_client_owns_the_provider(runtime, market, providers):
    """A client that is also the cheating provider's owner gets its client share of the slash, nothing more."""
    p = providers[0]
    job = create_job(runtime, market, p.owner)
    assert submit(runtime, market, job, p, [0, 1]).ok
    balances = Balances(runtime, provider=p.address, owner=p.owner.pubkey(), treasury=market.config.treasury, job=job.address)
    outcome = slash(runtime, market, job, p, evidence([0, 1], 0))
    assert outcome.ok, outcome.logs
    slashed = max(2 * SOL * market.config.slash_bps // 10_000, 2 * job.price)
    assert balances.changes() == {"provider": -slashed, "owner": slashed // 2, "treasury": slashed - slashed // 2, "job": 0}


def test_settle_success_slash(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    balances = Balances(runtime, provider=p.address, client=job.client.pubkey(), treasury=market.config.treasury, job=job.address)
    outcome = slash(runtime, market, job, p, evidence([0, 1], 1))
    assert outcome.ok, outcome.logs
    slashed = p.stake * market.config.slash_bps // 10_000
    assert balances.changes() == {"provider": -slashed, "client": slashed // 2, "treasury": slashed - slashed // 2, "job": 0}
    state = provider_state(runtime, p)
    assert (state.stake, state.locked_stake, state.shards_slashed) == (p.stake - slashed, 0, 2)
    assert MarketAccount.decode(runtime.account_data(market.address)).total_stake == 3 * p.stake - slashed


def test_settle_slash_reaches_stake_the_cheater_asked_to_unstake(runtime, market, job, providers):
    """No slash dodge: unstaking every free lamport in the very transaction that submits bad work shrinks nothing."""
    p = providers[0]
    collateral = 2 * job.price
    free = p.stake - collateral
    submitted = ix.submit_results(p.owner.pubkey(), market.address, job.address, [0, 1], results_root([0, 1]))
    dodge = ix.request_unstake(p.owner.pubkey(), market.address, free)
    assert runtime.send([submitted, dodge], [p.owner]).ok
    assert provider_state(runtime, p).unbonding_stake == free
    balances = Balances(runtime, provider=p.address, client=job.client.pubkey(), treasury=market.config.treasury)
    outcome = slash(runtime, market, job, p, evidence([0, 1], 0))
    assert outcome.ok, outcome.logs
    slashed = p.stake * market.config.slash_bps // 10_000  # as if it had never asked to unstake
    assert balances.changes() == {"provider": -slashed, "client": slashed // 2, "treasury": slashed - slashed // 2}
    state = provider_state(runtime, p)
    assert state.stake + state.unbonding_stake == p.stake - slashed and state.locked_stake == 0
    from_bonded = min(slashed, collateral)  # bonded stake first (all that was left bonded), then unbonding
    assert (state.stake, state.unbonding_stake) == (collateral - from_bonded, free - (slashed - from_bonded))
    assert MarketAccount.decode(runtime.account_data(market.address)).total_stake == 3 * p.stake - free - from_bonded


@pytest.mark.parametrize("shards, shard", [([4], 4), ([0, 1, 2, 3, 4], 4), ([0, 1, 2, 3, 4], 2), ([1, 3, 5, 6, 7, 9, 11], 11),
                                           (list(range(0, 200, 3)), 198), (list(range(256)), 137)])
def test_slash_success_records_evidence(runtime, funded, market, providers, shards, shard):
    """The slash names the shard, the committed digest (proven against the results root, odd trees included) and the
    referee's digest; the other shards of the submission can still be paid."""
    p = providers[0]
    job = create_job(runtime, market, funded(), shard_count=max(shards) + 1, price=1_000)
    assert submit(runtime, market, job, p, shards).ok
    accepted = set(shards[:2]) - {shard}
    balances = Balances(runtime, provider=p.address, owner=p.owner.pubkey(), client=job.client.pubkey())

    outcome = slash(runtime, market, job, p, evidence(shards, shard), accepted=accepted)

    assert outcome.ok, outcome.logs
    settled, slashed = outcome.events
    assert (settled.name, slashed.name, type(settled.data.verdict).__name__) == ("AssignmentSettled", "AssignmentSlashed", "Slash")
    assert (slashed.data.job, slashed.data.provider, slashed.data.shard) == (job.address, p.address, shard)
    assert bytes(slashed.data.committed_digest) == result_digest(shard)
    assert bytes(slashed.data.referee_digest) == REFEREE_DIGEST
    assert bytes(slashed.data.results_root) == results_root(shards)
    amount = p.stake * market.config.slash_bps // 10_000
    assert slashed.data.slashed == settled.data.slashed == amount
    assert balances.changes() == {"provider": -amount, "owner": len(accepted) * job.price, "client": amount // 2}
    assert assignment_state(runtime, job, p).status == AssignmentStatus.SETTLED


def test_settle_fail_slash_without_evidence(runtime, market, job, providers):
    """The verifier's word alone cannot slash: a settle entry with a slash verdict is refused, nothing moves."""
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    balances = Balances(runtime, provider=p.address, client=job.client.pubkey(), treasury=market.config.treasury)
    expect_error(settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.SLASH)), "SlashNeedsEvidence")
    assert balances.changes() == {"provider": 0, "client": 0, "treasury": 0}
    assert assignment_state(runtime, job, p).status == AssignmentStatus.PENDING


def test_slash_fail_evidence_that_does_not_hold(runtime, market, job, providers):
    p = providers[0]
    shards = [0, 1, 2, 3, 4]
    assert submit(runtime, market, job, p, shards).ok
    good = evidence(shards, 2)
    other = b"\x07" * 32
    bad = {
        "a digest it never committed": ix.SlashEvidence(2, other, REFEREE_DIGEST, good.proof),
        "a proof step changed": ix.SlashEvidence(2, good.committed_digest, REFEREE_DIGEST, (other,) + good.proof[1:]),
        "a step left out": ix.SlashEvidence(2, good.committed_digest, REFEREE_DIGEST, good.proof[:-1]),
        "another shard's proof": ix.SlashEvidence(3, good.committed_digest, REFEREE_DIGEST, good.proof),
        "the referee agreed": ix.SlashEvidence(2, good.committed_digest, good.committed_digest, good.proof),
        "a shard not submitted": ix.SlashEvidence(7, good.committed_digest, REFEREE_DIGEST, good.proof),
        "a shard past the bitmap": ix.SlashEvidence(255, good.committed_digest, REFEREE_DIGEST, good.proof),
    }
    balances = Balances(runtime, provider=p.address, client=job.client.pubkey(), treasury=market.config.treasury)
    for proof in bad.values():
        expect_error(slash(runtime, market, job, p, proof), "InvalidEvidence")
    expect_error(slash(runtime, market, job, p, good, accepted={2}), "InvalidEvidence")  # the slashed shard paid
    assert balances.changes() == {"provider": 0, "client": 0, "treasury": 0}
    assert assignment_state(runtime, job, p).status == AssignmentStatus.PENDING
    assert slash(runtime, market, job, p, good).ok
    expect_error(slash(runtime, market, job, p, good), "AssignmentNotPending")  # never twice


def test_slash_fail_wrong_verifier(runtime, funded, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    intruder = funded()
    instruction = ix.slash(intruder.pubkey(), market.address, job.address, job.client.pubkey(), market.config.treasury,
                           p.owner.pubkey(), (), evidence([0], 0))
    expect_error(runtime.send([instruction], [intruder]), "Unauthorized")


def test_settle_success_reject_releases_collateral(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    balances = Balances(runtime, owner=p.owner.pubkey(), provider=p.address, job=job.address)
    assert settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.REJECT)).ok
    assert balances.changes() == {"owner": 0, "provider": 0, "job": 0}
    assert provider_state(runtime, p).locked_stake == 0


def test_settle_fail_twice_never_pays_twice(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    entry = Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0}))
    assert settle(runtime, market, job, entry).ok
    balances = Balances(runtime, owner=p.owner.pubkey(), job=job.address)
    expect_error(settle(runtime, market, job, entry), "AssignmentNotPending")
    assert balances.changes() == {"owner": 0, "job": 0}


def test_settle_fail_wrong_verifier(runtime, funded, market, job, providers):
    assert submit(runtime, market, job, providers[0], [0]).ok
    outcome = settle(runtime, market, job, Settlement(providers[0].owner.pubkey(), Verdict.PAY, frozenset({0})), verifier=funded())
    expect_error(outcome, "Unauthorized")


def test_settle_fail_seed_mismatch(runtime, market, job, providers):
    assert submit(runtime, market, job, providers[0], [0]).ok
    outcome = settle(runtime, market, job, Settlement(providers[0].owner.pubkey(), Verdict.PAY, frozenset({0})), seed=b"x" * 32)
    expect_error(outcome, "SeedMismatch")


def test_settle_fail_accepted_not_submitted(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    expect_error(settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 5}))), "InvalidAcceptedShards")
    expect_error(settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY)), "InvalidAcceptedShards")
    expect_error(settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.REJECT, frozenset({0}))), "InvalidAcceptedShards")


def test_settle_fail_budget_exceeded(runtime, funded, market, providers):
    job = create_job(runtime, market, funded(), shard_count=2)  # budget: 2 + ceil(0.2) = 3 executions
    for p in providers:
        assert submit(runtime, market, job, p, [0, 1]).ok
    entries = [Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1})) for p in providers[:2]]
    expect_error(settle(runtime, market, job, *entries), "BudgetExceeded")
    assert settle(runtime, market, job, entries[0]).ok
    assert settle(runtime, market, job, Settlement(providers[1].owner.pubkey(), Verdict.PAY, frozenset({0}))).ok


def test_settle_fail_wrong_client_or_treasury(runtime, funded, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    entry = Settlement(p.owner.pubkey(), Verdict.REJECT)
    expect_error(settle(runtime, market, job, entry, client=funded().pubkey()), "WrongJob")
    expect_error(settle(runtime, market, job, entry, treasury=funded().pubkey()), "WrongMarket")
    expect_error(slash(runtime, market, job, p, evidence([0], 0), client=funded().pubkey()), "WrongJob")
    expect_error(slash(runtime, market, job, p, evidence([0], 0), treasury=funded().pubkey()), "WrongMarket")


def test_settle_fail_malformed_entries(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    good = ix.settle(market.authority.pubkey(), market.address, job.address, job.client.pubkey(), market.config.treasury,
                     job.seed, [Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0}))])
    for data, error in ((good.data[:-1], "InvalidInstructionData"), (good.data[:-33], "InvalidInstructionData"),
                        (good.data[:40] + (100).to_bytes(4, "little") + good.data[44:], "TooManyEntries"),
                        (good.data[:44] + bytes([9]) + good.data[45:], "InvalidVerdict")):
        expect_error(runtime.send([Instruction(good.program_id, data, good.accounts)], [market.authority]), error)
    expect_error(runtime.send([Instruction(good.program_id, good.data, good.accounts[:7])], [market.authority]), "NotEnoughAccounts")


# cancel_job, refund, close_job, close_assignment

def test_cancel_job_success_refunds_everything(runtime, market, job):
    balances = Balances(runtime, client=job.client.pubkey(), job=job.address)
    held = runtime.balance(job.address)
    outcome = runtime.send([ix.cancel_job(job.client.pubkey(), job.address)], [job.client])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"client": held - FEE_PER_SIGNATURE, "job": -held}
    assert runtime.account(job.address) is None


def test_cancel_job_fail_after_submission(runtime, market, job, providers):
    assert submit(runtime, market, job, providers[0], [0]).ok
    expect_error(runtime.send([ix.cancel_job(job.client.pubkey(), job.address)], [job.client]), "JobHasSubmissions")


def test_cancel_job_fail_wrong_client(runtime, funded, market, job):
    intruder = funded()
    expect_error(runtime.send([ix.cancel_job(intruder.pubkey(), job.address)], [intruder]), "Unauthorized")


def test_refund_fail_before_deadline(runtime, market, job):
    expect_error(runtime.send([ix.refund(job.client.pubkey(), job.address)], [job.client]), "DeadlineNotPassed")


def test_refund_success_keeps_pending_pay_reserved(runtime, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    runtime.advance(job.deadline - runtime.unix_time + 1)
    escrow = job_state(runtime, job).escrow
    reserved = 2 * job.price + -(-2 * job.price * 200 // 10_000)
    balances = Balances(runtime, client=job.client.pubkey())
    assert runtime.send([ix.refund(job.client.pubkey(), job.address)], [job.client]).ok
    assert balances.changes() == {"client": escrow - reserved - FEE_PER_SIGNATURE}
    assert job_state(runtime, job).escrow == reserved
    expect_error(runtime.send([ix.refund(job.client.pubkey(), job.address)], [job.client]), "NothingToRefund")
    assert settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1}))).ok  # still payable


def test_close_job_fail_while_assignments_pending(runtime, market, job, providers):
    assert submit(runtime, market, job, providers[0], list(range(job.shard_count))[:4]).ok
    expect_error(runtime.send([ix.close_job(job.address, job.client.pubkey())], [providers[1].owner]), "JobNotFinished")


def test_close_job_fail_unpaid_shards_before_deadline(runtime, funded, market, job):
    stranger = funded()
    expect_error(runtime.send([ix.close_job(job.address, job.client.pubkey())], [stranger]), "JobNotFinished")


def test_close_job_success_client_gives_up_before_deadline(runtime, market, job, providers):
    """A job nobody can run ends when its client says so: settled work stays paid, the rest comes back at once."""
    p = providers[0]
    assert submit(runtime, market, job, p, [0]).ok
    expect_error(runtime.send([ix.close_job(job.address, job.client.pubkey())], [job.client]), "JobNotFinished")
    assert settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0}))).ok
    held = runtime.balance(job.address)
    balances = Balances(runtime, client=job.client.pubkey())
    assert runtime.send([ix.close_job(job.address, job.client.pubkey())], [job.client]).ok
    assert balances.changes() == {"client": held - FEE_PER_SIGNATURE}
    assert runtime.account(job.address) is None


def test_close_job_success_and_revival_frees_stale_assignments(runtime, funded, market, providers):
    job = create_job(runtime, market, funded(), shard_count=2)
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    assert settle(runtime, market, job, Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1}))).ok
    expect_error(runtime.send([ix.close_assignment(p.owner.pubkey(), market.address, job.address)], [p.owner]), "JobNotClosed")
    held = runtime.balance(job.address)
    balances = Balances(runtime, client=job.client.pubkey())
    cranker = funded()  # anyone may close a finished job; the client gets the lamports
    outcome = runtime.send([ix.close_job(job.address, job.client.pubkey())], [cranker])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"client": held}
    assert runtime.account(job.address) is None
    expect_error(submit(runtime, market, job, providers[1], [0]), "InvalidAccountOwner")
    # A client may create a new job at the spent id; the old job's assignments still close, returning their rent.
    runtime.advance(1)
    instruction = ix.create_job(job.client.pubkey(), market.address, job.job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                                seed_commitment=b"s" * 32, price_per_shard=1, deadline=runtime.unix_time + 3600, shard_count=1)
    assert runtime.send([instruction], [job.client]).ok
    rent = runtime.rent_exempt_minimum(ASSIGNMENT_LEN)
    balances = Balances(runtime, owner=p.owner.pubkey())
    assert runtime.send([ix.close_assignment(p.owner.pubkey(), market.address, job.address)], [p.owner]).ok
    assert balances.changes() == {"owner": rent - FEE_PER_SIGNATURE}


# serve_cached

def cache_market(runtime, market, bps=2_500):
    cfg = config(market.authority.pubkey(), treasury=market.config.treasury, cache_fee_bps=bps)
    assert runtime.send([ix.update_market(market.authority.pubkey(), cfg)], [market.authority]).ok


def serve(runtime, market, job, shards, verifier=None):
    verifier = verifier or market.authority
    return runtime.send([ix.serve_cached(verifier.pubkey(), market.address, job.address, market.config.treasury, shards)], [verifier])


def test_serve_cached_success_pays_the_cache_fee_to_the_treasury(runtime, market, job):
    cache_market(runtime, market)
    balances = Balances(runtime, treasury=market.config.treasury, job=job.address)
    outcome = serve(runtime, market, job, [0, 1, 2])
    assert outcome.ok, outcome.logs
    fee = 3 * (job.price * 2_500 // 10_000)
    assert balances.changes() == {"treasury": fee, "job": -fee}
    state = job_state(runtime, job)
    assert state.paid_shards == {0, 1, 2} and state.executions_paid == 3
    assert outcome.events[0].name == "CachedServed" and outcome.events[0].data.paid == fee


def test_serve_cached_fail_twice_or_after_submission(runtime, market, job, providers):
    cache_market(runtime, market)
    assert submit(runtime, market, job, providers[0], [5]).ok
    assert serve(runtime, market, job, [0]).ok
    expect_error(serve(runtime, market, job, [0]), "DuplicateSubmission")
    expect_error(serve(runtime, market, job, [5]), "DuplicateSubmission")
    expect_error(serve(runtime, market, job, []), "EmptyShards")
    expect_error(serve(runtime, market, job, [job.shard_count]), "ShardOutOfRange")


def test_serve_cached_fail_after_the_deadline_when_a_refund_left_only_the_pending_reserve(runtime, market, job, providers):
    cache_market(runtime, market)
    assert submit(runtime, market, job, providers[0], [0]).ok
    runtime.advance(job.deadline - runtime.unix_time + 1)
    assert runtime.send([ix.refund(job.client.pubkey(), job.address)], [job.client]).ok
    expect_error(serve(runtime, market, job, [1]), "DeadlinePassed")


def test_serve_cached_fail_wrong_verifier(runtime, funded, market, job):
    expect_error(serve(runtime, market, job, [0], verifier=funded()), "Unauthorized")


# unwind_assignment: no lock-up when the verifier vanishes

def test_unwind_releases_what_a_vanished_verifier_left_and_the_client_takes_the_rest(runtime, funded, market, job, providers):
    p = providers[0]
    assert submit(runtime, market, job, p, [0, 1]).ok
    stranger = funded()  # anyone: neither the verifier, the client nor the provider
    unwind = ix.unwind_assignment(market.address, job.address, p.address)
    runtime.advance(job.deadline - runtime.unix_time + market.config.grace_period)  # at the edge: not yet
    expect_error(runtime.send([unwind], [stranger]), "GraceNotElapsed")
    runtime.advance(1)
    balances = Balances(runtime, provider=p.address, owner=p.owner.pubkey(), job=job.address)
    outcome = runtime.send([unwind], [stranger])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"provider": 0, "owner": 0, "job": 0}  # neither paid nor slashed
    assert [e.name for e in outcome.events] == ["AssignmentUnwound"] and outcome.events[0].data.released == 2 * job.price
    state = provider_state(runtime, p)
    assert (state.stake, state.locked_stake) == (p.stake, 0)
    assert (job_state(runtime, job).pending_assignments, job_state(runtime, job).pending_shards) == (0, 0)
    expect_error(runtime.send([unwind], [stranger]), "AssignmentNotPending")
    held = runtime.balance(job.address)
    balances = Balances(runtime, client=job.client.pubkey())
    assert runtime.send([ix.close_job(job.address, job.client.pubkey())], [stranger]).ok
    assert balances.changes() == {"client": held}  # every escrowed lamport back, and the rent


def test_unwind_fail_for_another_jobs_assignment(runtime, funded, market, job, providers):
    other = create_job(runtime, market, funded(), shard_count=2, lifetime=10)
    p = providers[0]
    assert submit(runtime, market, other, p, [0]).ok
    runtime.advance(3600 + market.config.grace_period + 1)
    forged = ix.build_instruction("unwind_assignment", {}, {
        "market": market.address, "job": job.address, "assignment": assignment_address(other.address, p.address)[0],
        "provider": p.address})
    expect_error(runtime.send([forged], [funded()]), "WrongJob")


def test_settle_withholds_the_seed_until_the_verifier_reveals_it(runtime, market, job, providers):
    """Settling while others may still submit reveals nothing: nobody learns early whether its work is checked."""
    first, second = providers[0], providers[1]
    assert submit(runtime, market, job, first, [0]).ok
    outcome = settle(runtime, market, job, Settlement(first.owner.pubkey(), Verdict.PAY, frozenset({0})), seed=ix.WITHHELD_SEED)
    assert outcome.ok, outcome.logs
    assert [e.name for e in outcome.events] == ["AssignmentSettled"] and job_state(runtime, job).revealed_seed is None
    assert submit(runtime, market, job, second, [1]).ok
    outcome = settle(runtime, market, job, Settlement(second.owner.pubkey(), Verdict.PAY, frozenset({1})))
    assert [e.name for e in outcome.events] == ["SeedRevealed", "AssignmentSettled"]
    assert job_state(runtime, job).revealed_seed == job.seed
