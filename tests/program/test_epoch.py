"""Epoch jobs in the real runtime: one job for the requests of many payment channels, opened by the verifier,
funded by one voucher claim per channel, settled as any job, and closed with each channel getting back exactly what
its own shards did not spend (and its share of slashes on them). Every attack refused with nothing moved."""

from __future__ import annotations

import hashlib

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet import LocalRuntime
from marketplace.chain import EpochAccount, JobAccount, MarketAccount, Verdict, epoch_address, job_address
from marketplace.chain import instructions as ix
from marketplace.chain.instructions import Settlement, SlashEvidence
from marketplace.chain.program import account_size, idl_json
from marketplace.economics import execution_budget, job_escrow
from marketplace.merkle import merkle_root
from tests.program.conftest import FEE_PER_SIGNATURE, Balances, MarketFixture, expect_error
from tests.program.test_channel import PRICE, SEED, ChannelFixture, open_channel
from tests.program.test_job import result_digest, results_root

JOB_LEN, EPOCH_LEN = account_size("Job"), account_size("Epoch")
EPOCH_ENTRIES = next(f["type"]["array"][1] for a in idl_json()["accounts"] if a["name"] == "Epoch"
                     for f in a["type"]["fields"] if f["name"] == "entries")  # claims one epoch holds


class Epoch:
    """An epoch job of `shards` shards, opened by the market's verifier."""

    def __init__(self, runtime: LocalRuntime, market: MarketFixture, shards: int, lifetime: int = 600) -> None:
        self.runtime, self.market, self.verifier = runtime, market, market.authority
        self.job_id = MarketAccount.decode(runtime.account_data(market.address)).jobs_created
        self.job = job_address(market.address, self.job_id)[0]
        self.epoch = epoch_address(self.job)[0]
        self.deadline = runtime.unix_time + lifetime
        self.opening = ix.open_epoch(self.verifier.pubkey(), market.address, self.job_id, model_digest=b"m" * 32,
                                     input_root=b"i" * 32, seed_commitment=hashlib.sha256(SEED).digest(),
                                     price_per_shard=PRICE, deadline=self.deadline, shard_count=shards)

    def open(self):
        return self.runtime.send([self.opening], [self.verifier])

    def claim(self, channel: ChannelFixture, shards: int, amount: int | None = None, signer: Keypair | None = None):
        amount = channel.state(self.runtime).claimed + self.escrow(shards) if amount is None else amount
        signer = signer or channel.authorizer  # a forger's own key in the precompile, which then verifies
        voucher = channel.voucher(self.runtime, amount, signer)
        return self.runtime.send(ix.claim_epoch(self.verifier.pubkey(), self.market.address, self.job, voucher,
                                                signer.pubkey(), shards), [self.verifier])

    def escrow(self, shards: int) -> int:
        return job_escrow(PRICE, shards, self.market.config.sampling_rate_bps, self.market.config.fee_bps)

    def job_state(self) -> JobAccount:
        return JobAccount.decode(self.runtime.account_data(self.job))

    def state(self) -> EpochAccount:
        return EpochAccount.decode(self.runtime.account_data(self.epoch))

    def submit(self, provider, shards, digests=None):
        root = results_root(shards) if digests is None else merkle_root([digests[s] for s in sorted(shards)])
        return self.runtime.send([ix.submit_results(provider.owner.pubkey(), self.market.address, self.job, shards, root)],
                                 [provider.owner])

    def settle(self, *settlements: Settlement, seed: bytes = SEED):
        return self.runtime.send([ix.settle(self.verifier.pubkey(), self.market.address, self.job, self.epoch,
                                            self.market.config.treasury, seed, list(settlements))], [self.verifier])

    def close(self, channels: list[Pubkey], payer: Pubkey | None = None, sender: Keypair | None = None):
        sender = sender or self.verifier
        closing = ix.close_epoch_job(self.job, payer or self.verifier.pubkey(), channels)
        return self.runtime.send([closing], [sender])


def fee_on(market: MarketFixture, lamports: int) -> int:
    return lamports * market.config.fee_bps // 10_000


@pytest.fixture
def agents(runtime, funded, market) -> list[ChannelFixture]:
    return [open_channel(runtime, market, funded()) for _ in range(3)]


# open_epoch

def test_open_epoch_makes_an_unfunded_job_whose_client_is_its_epoch(runtime, market):
    epoch = Epoch(runtime, market, 5)
    balances = Balances(runtime, verifier=epoch.verifier.pubkey())
    outcome = epoch.open()
    assert outcome.ok, outcome.logs
    rents = runtime.rent_exempt_minimum(JOB_LEN) + runtime.rent_exempt_minimum(EPOCH_LEN)
    assert balances.changes() == {"verifier": -rents - FEE_PER_SIGNATURE}
    job = epoch.job_state()
    assert (job.client, job.is_epoch, job.escrow, job.execution_budget, job.unfunded_shards, job.shard_count) == (
        epoch.epoch, True, 0, 0, 5, 5)
    state = epoch.state()
    assert (state.job, state.payer, state.funded_shards, state.entries) == (epoch.job, epoch.verifier.pubkey(), 0, ())


def test_open_epoch_fail_not_the_verifier(runtime, funded, market):
    intruder, epoch = funded(), Epoch(runtime, market, 5)
    opening = ix.open_epoch(intruder.pubkey(), market.address, epoch.job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                            seed_commitment=bytes(32), price_per_shard=PRICE, deadline=epoch.deadline, shard_count=5)
    expect_error(runtime.send([opening], [intruder]), "Unauthorized")
    assert runtime.account(epoch.job) is None and runtime.account(epoch.epoch) is None


# claim_epoch

def test_claims_fund_consecutive_shards_from_each_channel(runtime, market, agents):
    epoch = Epoch(runtime, market, 5)
    assert epoch.open().ok
    a, b = agents[:2]
    balances = Balances(runtime, a=a.address, b=b.address, job=epoch.job)
    assert epoch.claim(a, 3).ok
    assert epoch.job_state().unfunded_shards == 2
    outcome = epoch.claim(b, 2)
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"a": -epoch.escrow(3), "b": -epoch.escrow(2), "job": epoch.escrow(3) + epoch.escrow(2)}
    job, state = epoch.job_state(), epoch.state()
    assert (job.escrow, job.unfunded_shards) == (epoch.escrow(3) + epoch.escrow(2), 0)
    assert job.execution_budget == execution_budget(3, market.config.sampling_rate_bps) + execution_budget(2, market.config.sampling_rate_bps)
    assert [(e.channel, e.first_shard, e.shard_count, e.escrow, e.spent) for e in state.entries] == [
        (a.address, 0, 3, epoch.escrow(3), 0), (b.address, 3, 2, epoch.escrow(2), 0)]
    assert (a.state(runtime).claimed, a.state(runtime).open_jobs) == (epoch.escrow(3), 1)


def test_claim_epoch_compute_units(runtime, market, agents):
    epoch = Epoch(runtime, market, 5)
    assert epoch.open().ok
    outcome = epoch.claim(agents[0], 5)
    assert outcome.ok and outcome.compute_units <= 15_000, outcome.compute_units


@pytest.mark.parametrize("attack, error", [
    ("forged", "InvalidVoucher"),  # signed by someone other than the authorizer
    ("short", "VoucherExceeded"),  # authorizes less than the shards cost
    ("beyond_unfunded", "EpochShardsExceeded"),
    ("zero_shards", "EpochShardsExceeded"),
])
def test_claim_epoch_fail_moves_nothing(runtime, market, agents, attack, error):
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    channel = agents[0]
    balances = Balances(runtime, channel=channel.address, job=epoch.job)
    outcome = {
        "forged": lambda: epoch.claim(channel, 2, signer=Keypair()),
        "short": lambda: epoch.claim(channel, 2, amount=epoch.escrow(2) - 1),
        "beyond_unfunded": lambda: epoch.claim(channel, 5),
        "zero_shards": lambda: epoch.claim(channel, 0, amount=epoch.escrow(1)),
    }[attack]()
    expect_error(outcome, error)
    assert balances.changes() == {"channel": 0, "job": 0}
    assert epoch.job_state().unfunded_shards == 4 and epoch.state().entries == ()


def test_claim_epoch_fail_replayed_voucher(runtime, market, agents):
    """A voucher pays once: replayed for the next shards, it authorizes nothing beyond what it already paid."""
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    channel = agents[0]
    voucher = channel.voucher(runtime, epoch.escrow(2))
    claim = ix.claim_epoch(epoch.verifier.pubkey(), market.address, epoch.job, voucher, channel.authorizer.pubkey(), 2)
    assert runtime.send(claim, [epoch.verifier]).ok
    expect_error(runtime.send(claim, [epoch.verifier]), "VoucherExceeded")
    assert epoch.job_state().unfunded_shards == 2


def with_account(instruction: Instruction, index: int, account: Pubkey) -> Instruction:
    metas = list(instruction.accounts)
    metas[index] = AccountMeta(account, is_signer=False, is_writable=True)
    return Instruction(instruction.program_id, instruction.data, metas)


def test_claim_epoch_fail_voucher_of_another_channel(runtime, market, agents):
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    a, b = agents[:2]
    precompile, claim = ix.claim_epoch(epoch.verifier.pubkey(), market.address, epoch.job,
                                       a.voucher(runtime, epoch.escrow(2)), a.authorizer.pubkey(), 2)
    balances = Balances(runtime, a=a.address, b=b.address)
    expect_error(runtime.send([precompile, with_account(claim, 2, b.address)], [epoch.verifier]), "InvalidVoucher")
    assert balances.changes() == {"a": 0, "b": 0}


def test_claim_epoch_fail_intruder_wrong_epoch_or_late(runtime, funded, market, agents):
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    other = Epoch(runtime, market, 4)  # the next job id
    assert other.open().ok
    channel = agents[0]
    voucher = channel.voucher(runtime, epoch.escrow(2))
    precompile, claim = ix.claim_epoch(epoch.verifier.pubkey(), market.address, epoch.job, voucher,
                                       channel.authorizer.pubkey(), 2)
    expect_error(runtime.send([precompile, with_account(claim, 4, other.epoch)], [epoch.verifier]), "WrongEpoch")
    intruder = funded()
    expect_error(runtime.send(ix.claim_epoch(intruder.pubkey(), market.address, epoch.job, voucher,
                                             channel.authorizer.pubkey(), 2), [intruder]), "Unauthorized")
    ordinary = ix.claim_channel(epoch.verifier.pubkey(), market.address, 9_999, voucher, channel.authorizer.pubkey(),
                                model_digest=b"m" * 32, input_root=b"i" * 32, seed_commitment=bytes(32),
                                price_per_shard=PRICE, deadline=epoch.deadline, shard_count=1)
    assert runtime.send(ordinary, [epoch.verifier]).ok
    ordinary_job = job_address(market.address, 9_999)[0]
    expect_error(runtime.send(ix.claim_epoch(epoch.verifier.pubkey(), market.address, ordinary_job,
                                             channel.voucher(runtime, 10 * epoch.escrow(2)), channel.authorizer.pubkey(),
                                             1), [epoch.verifier]), "WrongEpoch")
    runtime.advance(601)
    expect_error(epoch.claim(channel, 2), "DeadlinePassed")
    assert epoch.state().entries == ()


def test_an_epoch_holds_at_most_its_claims(runtime, market, agents):
    epoch = Epoch(runtime, market, EPOCH_ENTRIES + 1)
    assert epoch.open().ok
    for _ in range(EPOCH_ENTRIES):
        assert epoch.claim(agents[0], 1).ok
    expect_error(epoch.claim(agents[1], 1), "EpochFull")


# the epoch's life

def test_results_wait_until_every_shard_is_funded(runtime, market, providers, agents):
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    assert epoch.claim(agents[0], 2).ok
    expect_error(epoch.submit(providers[0], [0, 1]), "JobNotFunded")
    assert epoch.claim(agents[1], 2).ok
    assert epoch.submit(providers[0], [0, 1]).ok


def test_each_channel_pays_exactly_for_its_own_shards(runtime, funded, market, providers, agents):
    """Channel A pays for shards 0-2, B for 3-4. P1 serves 0, 1, 3; P2 serves 2, 4 and a replica of 0; P3's shard 4
    replica is rejected. A pays for four executions, B for two; the rest of each one's escrow goes back to it, the
    rents to the verifier, and nothing to anyone else."""
    epoch = Epoch(runtime, market, 5)
    assert epoch.open().ok
    a, b = agents[:2]
    assert epoch.claim(a, 3).ok and epoch.claim(b, 2).ok
    p1, p2, p3 = providers
    assert epoch.submit(p1, [0, 1, 3]).ok and epoch.submit(p2, [0, 2, 4]).ok
    assert epoch.submit(p3, [4], {4: b"x" * 32}).ok
    watched = dict(a=a.address, b=b.address, verifier=epoch.verifier.pubkey(), treasury=market.config.treasury,
                   p1=p1.owner.pubkey(), p2=p2.owner.pubkey(), p3=p3.owner.pubkey(), job=epoch.job, epoch=epoch.epoch)
    balances = Balances(runtime, **watched)
    outcome = epoch.settle(Settlement(p1.owner.pubkey(), Verdict.PAY, frozenset({0, 1, 3})),
                           Settlement(p2.owner.pubkey(), Verdict.PAY, frozenset({0, 2, 4})),
                           Settlement(p3.owner.pubkey(), Verdict.REJECT, frozenset()))
    assert outcome.ok, outcome.logs
    spent_a = 4 * PRICE + fee_on(market, 2 * PRICE) + fee_on(market, 2 * PRICE)  # fees rounded per settlement and channel
    spent_b = 2 * PRICE + fee_on(market, PRICE) + fee_on(market, PRICE)
    state = epoch.state()
    assert [(e.executions_paid, e.spent) for e in state.entries] == [(4, spent_a), (2, spent_b)]
    assert epoch.job_state().escrow == epoch.escrow(3) + epoch.escrow(2) - spent_a - spent_b

    closer = funded()  # anyone may close a finished job; the outcome is fixed
    outcome = epoch.close([a.address, b.address], sender=closer)
    assert outcome.ok, outcome.logs
    rents = runtime.rent_exempt_minimum(JOB_LEN) + runtime.rent_exempt_minimum(EPOCH_LEN)
    changes = balances.changes()
    assert changes["a"] == epoch.escrow(3) - spent_a and changes["b"] == epoch.escrow(2) - spent_b
    assert changes["verifier"] == rents - FEE_PER_SIGNATURE
    assert changes["p3"] == 0 and changes["p1"] == 3 * PRICE and changes["p2"] == 3 * PRICE
    assert changes["treasury"] == spent_a + spent_b - 6 * PRICE
    assert sum(changes.values()) == -FEE_PER_SIGNATURE  # the settle's fee; the closer paid its own
    assert runtime.account(epoch.job) is None and runtime.account(epoch.epoch) is None
    assert a.state(runtime).open_jobs == 0 and b.state(runtime).open_jobs == 0


def test_a_slash_credits_the_channel_whose_shard_was_faked(runtime, market, providers, agents):
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok
    a, b = agents[:2]
    assert epoch.claim(a, 2).ok and epoch.claim(b, 2).ok
    honest, liar = providers[:2]
    lies = {s: result_digest(s) for s in (2, 3)}
    lies[3] = b"lie!" * 8
    assert epoch.submit(honest, [0, 1, 2, 3]).ok and epoch.submit(liar, [2, 3], lies).ok
    assert epoch.settle(Settlement(honest.owner.pubkey(), Verdict.PAY, frozenset({0, 1, 2, 3}))).ok
    evidence = SlashEvidence.build(lies, 3, referee_digest=result_digest(3))
    outcome = runtime.send([ix.slash(epoch.verifier.pubkey(), market.address, epoch.job, epoch.epoch,
                                     market.config.treasury, liar.owner.pubkey(), {2}, evidence)], [epoch.verifier])
    assert outcome.ok, outcome.logs
    slashed = outcome.events[1].data.slashed
    state = epoch.state()
    assert [e.credit for e in state.entries] == [0, slashed // 2]
    balances = Balances(runtime, a=a.address, b=b.address)
    assert epoch.close([a.address, b.address]).ok
    assert balances.changes() == {"a": state.entries[0].refund, "b": state.entries[1].refund}
    assert state.entries[1].refund == epoch.escrow(2) - state.entries[1].spent + slashed // 2


def test_a_channel_pays_at_most_its_own_budget(runtime, market, providers, agents):
    """Replicas of one channel's shard beyond what its escrow pays for are not paid out of another's."""
    epoch = Epoch(runtime, market, 2)
    assert epoch.open().ok
    a, b = agents[:2]
    assert epoch.claim(a, 1).ok and epoch.claim(b, 1).ok  # each pays for its shard and one replica
    for p in providers:
        assert epoch.submit(p, [0]).ok
    pay = [Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0})) for p in providers]
    expect_error(epoch.settle(*pay), "BudgetExceeded")
    assert epoch.settle(*pay[:2]).ok


def test_an_unfunded_epoch_closes_after_its_deadline_refunding_what_was_claimed(runtime, funded, market, agents):
    """A verifier that opens an epoch and claims only part of it locks nothing: past the deadline anyone closes it."""
    epoch = Epoch(runtime, market, 4)
    assert epoch.open().ok and epoch.claim(agents[0], 2).ok
    stranger = funded()
    expect_error(epoch.close([agents[0].address], sender=stranger), "JobNotFinished")
    runtime.advance(601)
    balances = Balances(runtime, a=agents[0].address, verifier=epoch.verifier.pubkey())
    assert epoch.close([agents[0].address], sender=stranger).ok
    rents = runtime.rent_exempt_minimum(JOB_LEN) + runtime.rent_exempt_minimum(EPOCH_LEN)
    assert balances.changes() == {"a": epoch.escrow(2), "verifier": rents}
    assert agents[0].state(runtime).open_jobs == 0


def test_close_epoch_fail_without_every_payer_in_order(runtime, funded, market, agents):
    epoch = Epoch(runtime, market, 4)
    a, b = agents[:2]
    assert epoch.open().ok and epoch.claim(a, 2).ok and epoch.claim(b, 2).ok
    runtime.advance(601)
    stranger = funded()
    for channels, payer in [([a.address], None), ([b.address, a.address], None), ([a.address, agents[2].address], None),
                            ([a.address, b.address], stranger.pubkey())]:
        expect_error(epoch.close(channels, payer=payer, sender=stranger), "EpochPayersMissing")
    # an epoch job's lamports never go to its epoch as if it were an ordinary client
    expect_error(runtime.send([ix.close_job(epoch.job, epoch.epoch)], [stranger]), "EpochPayersMissing")
    assert epoch.close([a.address, b.address], sender=stranger).ok


def test_the_channel_withdraws_only_after_its_epoch_closes(runtime, market, agents):
    epoch = Epoch(runtime, market, 2)
    channel = agents[0]
    assert epoch.open().ok and epoch.claim(channel, 2).ok
    owner = channel.owner
    assert runtime.send([ix.request_withdraw(owner.pubkey(), channel.address)], [owner]).ok
    runtime.advance(3_600)
    expect_error(runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]), "ChannelHasOpenJobs")
    assert epoch.close([channel.address]).ok
    assert runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]).ok


def test_epoch_jobs_refuse_cached_answers_and_client_refunds(runtime, funded, market, agents):
    epoch = Epoch(runtime, market, 2)
    assert epoch.open().ok and epoch.claim(agents[0], 2).ok
    cached = ix.serve_cached(epoch.verifier.pubkey(), market.address, epoch.job, market.config.treasury, [0])
    expect_error(runtime.send([cached], [epoch.verifier]), "CachedInEpoch")
    stranger = funded()
    expect_error(runtime.send([ix.refund(stranger.pubkey(), epoch.job)], [stranger]), "Unauthorized")
    expect_error(runtime.send([ix.cancel_job(stranger.pubkey(), epoch.job)], [stranger]), "Unauthorized")


def test_an_epoch_of_a_thousand_requests_settles_every_shard(runtime, market, providers, agents):
    """Shards far past the first 256 are committed, paid and charged to their channel like the first."""
    epoch = Epoch(runtime, market, 1_000)
    assert epoch.open().ok
    a, b = agents[:2]
    assert epoch.claim(a, 600).ok and epoch.claim(b, 400).ok
    p1, p2 = providers[:2]
    assert epoch.submit(p1, range(0, 1_000, 2)).ok and epoch.submit(p2, range(1, 1_000, 2)).ok
    outcome = epoch.settle(Settlement(p1.owner.pubkey(), Verdict.PAY, frozenset(range(0, 1_000, 2))),
                           Settlement(p2.owner.pubkey(), Verdict.PAY, frozenset(range(1, 1_000, 2))))
    assert outcome.ok, outcome.logs
    assert epoch.job_state().paid_shards == frozenset(range(1_000))
    assert [e.executions_paid for e in epoch.state().entries] == [600, 400]
    balances = Balances(runtime, a=a.address, b=b.address)
    assert epoch.close([a.address, b.address]).ok  # every shard paid: closes before the deadline
    assert balances.changes() == {"a": epoch.escrow(600) - 600 * PRICE - 2 * fee_on(market, 300 * PRICE),
                                  "b": epoch.escrow(400) - 400 * PRICE - 2 * fee_on(market, 200 * PRICE)}
