"""Payment channels in the real runtime: open, top up, claim by voucher (checked through the Ed25519 precompile),
request_withdraw, withdraw; each attack on a voucher refused with nothing moved."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import pytest
from solders.clock import Clock
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.sysvar import CLOCK

from localnet import LocalRuntime
from marketplace.chain import JobAccount, Verdict, job_address
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import ChannelAccount
from marketplace.chain.errors import InstructionArgumentError
from marketplace.chain.instructions import Settlement
from marketplace.chain.program import account_size, channel_address
from marketplace.chain.vouchers import ED25519_PROGRAM_ID, THIS_INSTRUCTION, Voucher
from marketplace.economics import job_escrow
from tests.program.conftest import FEE_PER_SIGNATURE, SOL, Balances, MarketFixture, expect_error
from tests.program.test_job import results_root

CHANNEL_LEN, JOB_LEN = account_size("Channel"), account_size("Job")
DELAY = 3_600
PRICE, SHARDS = 100_000, 4
SEED = hashlib.sha256(b"the epoch's sampling seed").digest()


def escrow_of(market: MarketFixture, shards: int = SHARDS, price: int = PRICE) -> int:
    return job_escrow(price, shards, market.config.sampling_rate_bps, market.config.fee_bps)


@dataclass
class ChannelFixture:
    owner: Keypair
    authorizer: Keypair
    address: Pubkey
    deposit: int

    def state(self, runtime: LocalRuntime) -> ChannelAccount:
        return ChannelAccount.decode(runtime.account_data(self.address))

    def voucher(self, runtime: LocalRuntime, amount: int, signer: Keypair | None = None) -> Voucher:
        return Voucher.sign(signer or self.authorizer, self.address, self.state(runtime).generation, amount)


def open_channel(runtime, market, owner: Keypair, deposit: int = 10 * SOL, delay: int = DELAY,
                 authorizer: Keypair | None = None) -> ChannelFixture:
    authorizer = authorizer or Keypair()
    outcome = runtime.send([ix.open_channel(owner.pubkey(), market.address, authorizer.pubkey(), deposit, delay)], [owner])
    assert outcome.ok, outcome.logs
    return ChannelFixture(owner, authorizer, channel_address(market.address, owner.pubkey())[0], deposit)


@pytest.fixture
def channel(runtime, funded, market) -> ChannelFixture:
    return open_channel(runtime, market, funded())


class Claims:
    """Claims by the market's verifier, each opening a job with a fresh id."""

    def __init__(self, runtime: LocalRuntime, market: MarketFixture) -> None:
        self.runtime, self.market, self.next_id = runtime, market, 1_000

    def instructions(self, voucher: Voucher, authorizer: Pubkey, shards: int = SHARDS, job_id: int | None = None,
                     price: int = PRICE) -> tuple[list[Instruction], int]:
        job_id = self.next_id if job_id is None else job_id
        self.next_id += 1
        return ix.claim_channel(
            self.market.authority.pubkey(), self.market.address, job_id, voucher, authorizer,
            model_digest=b"m" * 32, input_root=b"i" * 32, seed_commitment=hashlib.sha256(SEED).digest(),
            price_per_shard=price, deadline=self.runtime.unix_time + 600, shard_count=shards), job_id

    def send(self, voucher: Voucher, authorizer: Pubkey, **kwargs):
        instructions, job_id = self.instructions(voucher, authorizer, **kwargs)
        return self.runtime.send(instructions, [self.market.authority]), job_address(self.market.address, job_id)[0]

    def send_raw(self, instructions: list[Instruction]):
        return self.runtime.send(instructions, [self.market.authority])


@pytest.fixture
def claims(runtime, market) -> Claims:
    return Claims(runtime, market)


# open_channel, top_up_channel

def test_open_channel_success(runtime, funded, market):
    owner = funded()
    balances = Balances(runtime, owner=owner.pubkey())
    channel = open_channel(runtime, market, owner, deposit=3 * SOL)
    rent = runtime.rent_exempt_minimum(CHANNEL_LEN)
    assert balances.changes() == {"owner": -(rent + 3 * SOL) - FEE_PER_SIGNATURE}
    assert runtime.balance(channel.address) == rent + 3 * SOL
    state = channel.state(runtime)
    assert (state.market, state.owner, state.authorizer) == (market.address, owner.pubkey(), channel.authorizer.pubkey())
    assert (state.claimed, state.withdraw_delay, state.withdrawable_at, state.open_jobs) == (0, DELAY, 0, 0)


@pytest.mark.parametrize("deposit, delay, error", [
    (0, DELAY, "ZeroAmount"), (SOL, 0, "InvalidWithdrawDelay"), (SOL, 366 * 24 * 3600 + 1, "InvalidWithdrawDelay"),
])
def test_open_channel_fail_bad_terms(runtime, funded, market, deposit, delay, error):
    owner = funded()
    balances = Balances(runtime, owner=owner.pubkey())
    expect_error(runtime.send([ix.open_channel(owner.pubkey(), market.address, Keypair().pubkey(), deposit, delay)], [owner]), error)
    assert balances.changes() == {"owner": -FEE_PER_SIGNATURE}


def test_open_channel_negative_delay_is_refused_before_sending(market):
    with pytest.raises(InstructionArgumentError, match="withdraw_delay"):
        ix.open_channel(Keypair().pubkey(), market.address, Keypair().pubkey(), SOL, -1)


def test_open_channel_fail_twice(runtime, market, channel):
    outcome = runtime.send([ix.open_channel(channel.owner.pubkey(), market.address, Keypair().pubkey(), SOL, DELAY)], [channel.owner])
    expect_error(outcome, "AccountAlreadyInitialized")


def test_top_up_channel(runtime, funded, channel):
    balances = Balances(runtime, channel=channel.address)
    assert runtime.send([ix.top_up_channel(channel.owner.pubkey(), channel.address, SOL)], [channel.owner]).ok
    assert balances.changes() == {"channel": SOL}
    stranger = funded()
    expect_error(runtime.send([ix.top_up_channel(stranger.pubkey(), channel.address, SOL)], [stranger]), "Unauthorized")
    expect_error(runtime.send([ix.top_up_channel(channel.owner.pubkey(), channel.address, 0)], [channel.owner]), "ZeroAmount")


# claim_channel

def test_claim_opens_a_job_the_channel_pays_for(runtime, market, channel, claims):
    escrow, job_rent = escrow_of(market), runtime.rent_exempt_minimum(JOB_LEN)
    balances = Balances(runtime, channel=channel.address, verifier=market.authority.pubkey())
    outcome, job = claims.send(channel.voucher(runtime, escrow), channel.authorizer.pubkey())
    assert outcome.ok, outcome.logs
    # The verifier fronts the job's rent and is repaid: it pays its signature's fee, nothing else.
    assert balances.changes() == {"channel": -(escrow + job_rent), "verifier": -outcome.fee}
    assert outcome.fee == 2 * FEE_PER_SIGNATURE  # the precompile's signature is charged as one
    state = JobAccount.decode(runtime.account_data(job))
    assert (state.client, state.escrow, state.shard_count, state.price_per_shard) == (channel.address, escrow, SHARDS, PRICE)
    assert (channel.state(runtime).claimed, channel.state(runtime).open_jobs) == (escrow, 1)
    [created, claimed] = [e for e in outcome.events if e.name in ("JobCreated", "ChannelClaimed")]
    assert created.data.client == channel.address
    assert (claimed.data.voucher_amount, claimed.data.escrow, claimed.data.claimed) == (escrow, escrow, escrow)
    assert outcome.compute_units <= 15_000, outcome.compute_units


def test_a_voucher_authorizes_its_amount_once_in_all(runtime, market, channel, claims):
    """Replaying a voucher, or presenting an older one, claims nothing beyond what it authorized in all."""
    escrow = escrow_of(market)
    voucher = channel.voucher(runtime, 2 * escrow)
    assert claims.send(voucher, channel.authorizer.pubkey())[0].ok
    assert claims.send(voucher, channel.authorizer.pubkey())[0].ok  # its second half
    balances = Balances(runtime, channel=channel.address)
    expect_error(claims.send(voucher, channel.authorizer.pubkey())[0], "VoucherExceeded")  # replayed
    expect_error(claims.send(channel.voucher(runtime, escrow), channel.authorizer.pubkey())[0], "VoucherExceeded")  # stale
    assert balances.changes() == {"channel": 0}
    assert channel.state(runtime).claimed == 2 * escrow


def test_claim_fail_beyond_the_voucher(runtime, market, channel, claims):
    voucher = channel.voucher(runtime, escrow_of(market) - 1)
    expect_error(claims.send(voucher, channel.authorizer.pubkey())[0], "VoucherExceeded")


def test_claim_fail_beyond_the_deposit(runtime, funded, market, claims):
    channel = open_channel(runtime, market, funded(), deposit=escrow_of(market))  # no room for the job's rent
    balances = Balances(runtime, channel=channel.address)
    expect_error(claims.send(channel.voucher(runtime, 10 * SOL), channel.authorizer.pubkey())[0], "ChannelUnderfunded")
    assert balances.changes() == {"channel": 0}


def test_claim_fail_forged_voucher(runtime, market, channel, claims):
    """Signed by a key other than the channel's authorizer: the precompile accepts the signature, the program not the key."""
    forger = Keypair()
    expect_error(claims.send(channel.voucher(runtime, SOL, signer=forger), forger.pubkey())[0], "InvalidVoucher")


def test_claim_fail_voucher_of_another_channel(runtime, funded, market, channel, claims):
    other = open_channel(runtime, market, funded())
    foreign = Voucher.sign(other.authorizer, other.address, other.state(runtime).generation, SOL)
    # Presented as this channel's: its message names the other channel.
    instructions, _ = claims.instructions(foreign, other.authorizer.pubkey())
    retargeted = _with_channel(instructions[1], channel.address)
    expect_error(claims.send_raw([instructions[0], retargeted]), "InvalidVoucher")


def test_claim_fail_amount_other_than_signed(runtime, market, channel, claims):
    signed = channel.voucher(runtime, escrow_of(market))
    inflated = Voucher(signed.channel, signed.generation, 10 * SOL, signed.signature)
    precompile, claim = claims.instructions(inflated, channel.authorizer.pubkey())[0]
    honest_precompile = signed.precompile_instruction(channel.authorizer.pubkey())
    expect_error(claims.send_raw([honest_precompile, claim]), "InvalidVoucher")


def test_claim_fail_bad_signature_moves_nothing(runtime, market, channel, claims):
    voucher = channel.voucher(runtime, SOL)
    broken = Voucher(voucher.channel, voucher.generation, voucher.amount, Keypair().sign_message(b"something else"))
    balances = Balances(runtime, channel=channel.address)
    outcome = claims.send(broken, channel.authorizer.pubkey())[0]
    assert not outcome.ok and outcome.err.index == 0  # the precompile itself fails the transaction
    assert balances.changes() == {"channel": 0}


def test_claim_fail_without_the_precompile_just_before(runtime, market, channel, claims):
    precompile, claim = claims.instructions(channel.voucher(runtime, SOL), channel.authorizer.pubkey())[0]
    expect_error(claims.send_raw([claim]), "InvalidVoucher")
    precompile, claim = claims.instructions(channel.voucher(runtime, SOL), channel.authorizer.pubkey())[0]
    expect_error(claims.send_raw([precompile, set_compute_unit_limit(200_000), claim]), "InvalidVoucher")


def test_claim_fail_wrong_sysvar(runtime, market, channel, claims):
    precompile, claim = claims.instructions(channel.voucher(runtime, SOL), channel.authorizer.pubkey())[0]
    metas = list(claim.accounts)
    metas[4] = AccountMeta(CLOCK, is_signer=False, is_writable=False)
    expect_error(claims.send_raw([precompile, Instruction(claim.program_id, claim.data, metas)]), "InvalidSysvar")


def test_claim_fail_signer_not_the_verifier(runtime, funded, market, channel, claims):
    intruder = funded()
    precompile, claim = claims.instructions(channel.voucher(runtime, SOL), channel.authorizer.pubkey())[0]
    metas = list(claim.accounts)
    metas[0] = AccountMeta(intruder.pubkey(), is_signer=True, is_writable=True)
    outcome = runtime.send([precompile, Instruction(claim.program_id, claim.data, metas)], [intruder])
    expect_error(outcome, "Unauthorized")


# The precompile verifies whatever its offsets point at, in any instruction of the transaction. Each case below is a
# transaction the precompile accepts, whose second instruction shows the authorizer's key and a voucher message at
# the expected places, while what was verified came from elsewhere. Only the full byte comparison refuses them all.

def _precompile_data(key: bytes, signature: bytes, message: bytes, indexes=(THIS_INSTRUCTION,) * 3,
                     offsets=(48, 16, 112), count: int = 1) -> bytes:
    signature_offset, key_offset, message_offset = offsets
    header = struct.pack("<BB7H", count, 0, signature_offset, indexes[0], key_offset, indexes[1], message_offset,
                         len(message), indexes[2])
    return header + key + signature + message


@pytest.mark.parametrize("field", ["signature", "public key", "message"])
def test_claim_fail_precompile_instruction_index_pointing_elsewhere(runtime, market, channel, claims, field):
    escrow, authorizer = escrow_of(market), channel.authorizer
    claimed = channel.voucher(runtime, 100 * escrow)  # what the tampered instruction shows
    attacker = Keypair()
    if field == "public key":  # the attacker signs the shown message; the key verified is the attacker's, in P0
        real = Voucher(claimed.channel, claimed.generation, claimed.amount, attacker.sign_message(claimed.message))
        p0 = _precompile_data(bytes(attacker.pubkey()), bytes(real.signature), claimed.message)
        shown = _precompile_data(bytes(authorizer.pubkey()), bytes(real.signature), claimed.message, (0xFFFF, 0, 0xFFFF))
    elif field == "message":  # an old, small voucher's message is what was verified, in P0
        old = channel.voucher(runtime, escrow)
        p0 = _precompile_data(bytes(authorizer.pubkey()), bytes(old.signature), old.message)
        shown = _precompile_data(bytes(authorizer.pubkey()), bytes(old.signature), claimed.message, (0xFFFF, 0xFFFF, 0))
    else:  # the signature verified is P0's; harmless on its own, refused all the same
        p0 = _precompile_data(bytes(authorizer.pubkey()), bytes(claimed.signature), claimed.message)
        shown = _precompile_data(bytes(authorizer.pubkey()), bytes(64), claimed.message, (0, 0xFFFF, 0xFFFF))
    claim = claims.instructions(claimed, authorizer.pubkey())[0][1]
    balances = Balances(runtime, channel=channel.address)
    outcome = claims.send_raw([Instruction(ED25519_PROGRAM_ID, p0, []), Instruction(ED25519_PROGRAM_ID, shown, []), claim])
    expect_error(outcome, "InvalidVoucher")
    assert balances.changes() == {"channel": 0}


def test_claim_fail_precompile_layout_other_than_expected(runtime, market, channel, claims):
    """Offsets moved (with the bytes moved accordingly, so the precompile accepts) or a second signature: refused."""
    voucher = channel.voucher(runtime, SOL)
    key, signature, message = bytes(channel.authorizer.pubkey()), bytes(voucher.signature), voucher.message
    moved = struct.pack("<BB7H", 1, 0, 16, 0xFFFF, 80, 0xFFFF, 112, len(message), 0xFFFF) + signature[:64] + key + message
    claim = claims.instructions(voucher, channel.authorizer.pubkey())[0][1]
    expect_error(claims.send_raw([Instruction(ED25519_PROGRAM_ID, moved, []), claim]), "InvalidVoucher")
    padded = _precompile_data(key, signature, message) + b"\0"
    expect_error(claims.send_raw([Instruction(ED25519_PROGRAM_ID, padded, []), claim]), "InvalidVoucher")


# request_withdraw, withdraw

def test_withdraw_after_the_delay_returns_everything(runtime, market, channel):
    owner = channel.owner
    expect_error(runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]), "WithdrawNotRequested")
    outcome = runtime.send([ix.request_withdraw(owner.pubkey(), channel.address)], [owner])
    assert outcome.ok and channel.state(runtime).withdrawable_at == runtime.unix_time + DELAY
    expect_error(runtime.send([ix.request_withdraw(owner.pubkey(), channel.address)], [owner]), "WithdrawAlreadyRequested")
    runtime.advance(DELAY - 1)
    expect_error(runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]), "WithdrawDelayNotElapsed")
    runtime.advance(1)
    held = runtime.balance(channel.address)
    balances = Balances(runtime, owner=owner.pubkey())
    assert runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]).ok
    assert balances.changes() == {"owner": held - FEE_PER_SIGNATURE}
    assert runtime.account(channel.address) is None


def test_withdraw_fail_not_the_owner(runtime, funded, channel):
    stranger = funded()
    expect_error(runtime.send([ix.request_withdraw(stranger.pubkey(), channel.address)], [stranger]), "Unauthorized")
    runtime.send([ix.request_withdraw(channel.owner.pubkey(), channel.address)], [channel.owner])
    runtime.advance(DELAY)
    expect_error(runtime.send([ix.withdraw(stranger.pubkey(), channel.address)], [stranger]), "Unauthorized")


def test_vouchers_are_claimable_during_the_delay_and_open_jobs_hold_the_withdrawal(runtime, funded, market, providers,
                                                                                   channel, claims):
    """The verifier claims after the agent asked to leave; the agent leaves once that job has closed, with
    everything the job did not pay out, having lost nothing."""
    owner, escrow = channel.owner, escrow_of(market)
    start = runtime.balance(channel.address)
    assert runtime.send([ix.request_withdraw(owner.pubkey(), channel.address)], [owner]).ok
    outcome, job = claims.send(channel.voucher(runtime, escrow), channel.authorizer.pubkey())
    assert outcome.ok, outcome.logs
    p, verifier = providers[0], market.authority
    submitted = ix.submit_results(p.owner.pubkey(), market.address, job, [0, 1], results_root({0, 1}))
    assert runtime.send([submitted], [p.owner]).ok
    paying = ix.settle(verifier.pubkey(), market.address, job, channel.address, market.config.treasury, SEED,
                       [Settlement(p.owner.pubkey(), Verdict.PAY, frozenset({0, 1}))])
    assert runtime.send([paying], [verifier]).ok
    runtime.advance(DELAY)
    expect_error(runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]), "ChannelHasOpenJobs")
    # Past its deadline anyone closes the job; what it did not pay goes back to the channel, not to the verifier.
    stranger = funded()
    assert runtime.send([ix.close_job(job, channel.address)], [stranger]).ok
    paid = 2 * PRICE + 2 * PRICE * market.config.fee_bps // 10_000
    assert runtime.balance(channel.address) == start - paid
    assert channel.state(runtime).open_jobs == 0
    balances = Balances(runtime, owner=owner.pubkey())
    assert runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]).ok
    assert balances.changes() == {"owner": start - paid - FEE_PER_SIGNATURE}


def test_a_reopened_channel_refuses_the_old_channels_vouchers(runtime, market, channel, claims):
    old = channel.voucher(runtime, 10 * escrow_of(market))
    owner = channel.owner
    runtime.send([ix.request_withdraw(owner.pubkey(), channel.address)], [owner])
    runtime.advance(DELAY)
    assert runtime.send([ix.withdraw(owner.pubkey(), channel.address)], [owner]).ok
    clock = runtime.svm.get_clock()
    runtime.set_clock(Clock(clock.slot + 10, clock.epoch_start_timestamp, clock.epoch, clock.leader_schedule_epoch,
                            clock.unix_timestamp))
    reopened = open_channel(runtime, market, owner, authorizer=channel.authorizer)  # the same session key, even
    assert reopened.address == channel.address and reopened.state(runtime).generation != old.generation
    expect_error(claims.send(old, channel.authorizer.pubkey())[0], "InvalidVoucher")
    assert claims.send(reopened.voucher(runtime, escrow_of(market)), channel.authorizer.pubkey())[0].ok


def _with_channel(claim: Instruction, channel: Pubkey) -> Instruction:
    metas = list(claim.accounts)
    metas[2] = AccountMeta(channel, is_signer=False, is_writable=True)
    return Instruction(claim.program_id, claim.data, metas)
