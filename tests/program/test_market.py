"""initialize_market and update_market in the real runtime."""

from __future__ import annotations

import pytest
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer

from marketplace.chain import MarketAccount, market_address
from marketplace.chain import instructions as ix
from marketplace.chain.program import account_size
from marketplace.economics import deters
from tests.program.conftest import FEE_PER_SIGNATURE, SOL, TREASURY, Balances, config, expect_error

MARKET_LEN = account_size("Market")


def test_initialize_market_success(runtime, funded):
    authority = funded()
    market, bump = market_address(authority.pubkey())
    cfg = config(authority.pubkey())
    balances = Balances(runtime, authority=authority.pubkey(), market=market)

    outcome = runtime.send([ix.initialize_market(authority.pubkey(), cfg)], [authority])

    assert outcome.ok, outcome.logs
    rent = runtime.rent_exempt_minimum(MARKET_LEN)
    assert balances.changes() == {"authority": -rent - FEE_PER_SIGNATURE, "market": rent}
    account = MarketAccount.decode(runtime.account_data(market))
    assert account.authority == authority.pubkey()
    assert (account.verifier, account.treasury, account.min_stake) == (cfg.verifier, cfg.treasury, cfg.min_stake)
    assert (account.fee_bps, account.slash_bps, account.sampling_rate_bps) == (200, 5_000, 1_000)
    assert (account.jobs_created, account.total_stake, account.provider_count, account.bump) == (0, 0, 0, bump)
    assert runtime.account(market).owner == runtime.program_id
    [event] = outcome.events
    assert event.name == "MarketInitialized"
    assert (event.data.market, event.data.authority, event.data.treasury) == (market, authority.pubkey(), cfg.treasury)


@pytest.mark.parametrize("prefund", [1_000, SOL])
def test_initialize_market_success_when_address_was_prefunded(runtime, funded, prefund):
    """Lamports sent to the PDA beforehand must not block creating it."""
    authority, griefer = funded(), funded()
    market, _ = market_address(authority.pubkey())
    assert runtime.send([transfer(TransferParams(from_pubkey=griefer.pubkey(), to_pubkey=market, lamports=prefund))], [griefer]).ok

    outcome = runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey()))], [authority])

    assert outcome.ok, outcome.logs
    assert runtime.balance(market) == max(prefund, runtime.rent_exempt_minimum(MARKET_LEN))
    assert runtime.account(market).owner == runtime.program_id
    assert MarketAccount.decode(runtime.account_data(market)).authority == authority.pubkey()


def test_initialize_market_fail_wrong_signer(runtime, funded):
    authority, payer = funded(), funded()
    instruction = ix.initialize_market(authority.pubkey(), config(authority.pubkey()))
    metas = [AccountMeta(m.pubkey, is_signer=False, is_writable=m.is_writable) for m in instruction.accounts]
    balances = Balances(runtime, authority=authority.pubkey(), payer=payer.pubkey())

    outcome = runtime.send([Instruction(instruction.program_id, instruction.data, metas)], [payer])

    expect_error(outcome, "MissingSigner")
    assert balances.changes() == {"authority": 0, "payer": -FEE_PER_SIGNATURE}


def test_initialize_market_fail_spoofed_pda(runtime, funded):
    authority, impostor = funded(), Keypair()
    instruction = ix.build_instruction(
        "initialize_market",
        {"config": config(authority.pubkey()).to_idl()},
        {"authority": authority.pubkey(), "market": impostor.pubkey(), "treasury": TREASURY, "system_program": SYSTEM_PROGRAM_ID},
    )
    outcome = runtime.send([instruction], [authority])
    expect_error(outcome, "InvalidPda")
    assert runtime.account(impostor.pubkey()) is None


def test_initialize_market_fail_already_initialized(runtime, market):
    balances = Balances(runtime, market=market.address)
    outcome = runtime.send([ix.initialize_market(market.authority.pubkey(), market.config)], [market.authority])
    expect_error(outcome, "AccountAlreadyInitialized")
    assert balances.changes() == {"market": 0}


def test_initialize_market_fail_invalid_bps(runtime, funded):
    authority = funded()
    for field in ("fee_bps", "slash_bps", "sampling_rate_bps"):
        outcome = runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey(), **{field: 10_001}))], [authority])
        expect_error(outcome, "InvalidBps")
    assert runtime.account(market_address(authority.pubkey())[0]) is None


def test_initialize_market_fail_invalid_config(runtime, funded):
    authority = funded()
    year = 366 * 24 * 3600  # every period is bounded, so unstaking and deadlines can never overflow
    for bad in ({"min_stake": 0}, {"unbonding_period": -1}, {"claim_timeout": 0}, {"unbonding_period": 2**63 - 1},
                {"unbonding_period": year + 1}, {"claim_timeout": year + 1}, {"grace_period": 0}, {"grace_period": year + 1}):
        outcome = runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey(), **bad))], [authority])
        expect_error(outcome, "InvalidConfig")


@pytest.mark.parametrize("bad", [
    {"sampling_rate_bps": 0},  # nothing is ever checked
    {"sampling_rate_bps": 1},  # 1 in 10,000 checked: the slash of 0.5 SOL does not cover a 0.01 SOL fake
    {"slash_bps": 0, "sampling_rate_bps": 4_999},  # only the collateral at risk: p·2R > R needs p > 1/2
    {"max_price_per_shard": 10**12 + 1},  # beyond the bound that keeps p·(R + S) within u64
    {"max_price_per_shard": 0},
])
def test_initialize_market_fail_cheating_pays(runtime, funded, bad):
    """PoSP's condition p·(R + S) > R at the market's highest price: a market where faking a shard pays is refused."""
    authority = funded()
    outcome = runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey(), **bad))], [authority])
    expect_error(outcome, "InvalidConfig" if "max_price_per_shard" in bad else "CheatingPays")
    assert runtime.account(market_address(authority.pubkey())[0]) is None


@pytest.mark.parametrize("sampling_rate_bps, ok", [(196, False), (197, True)])
def test_initialize_market_deterrence_boundary(runtime, funded, sampling_rate_bps, ok):
    """At 0.01 SOL per shard with 0.5 SOL slashed: p·(0.01 + 0.5) > 0.01 holds from p = 1.97% up."""
    authority = funded()
    cfg = config(authority.pubkey(), sampling_rate_bps=sampling_rate_bps)
    assert deters(cfg.max_price_per_shard, sampling_rate_bps, cfg.min_stake, cfg.slash_bps) is ok
    outcome = runtime.send([ix.initialize_market(authority.pubkey(), cfg)], [authority])
    if ok:
        assert outcome.ok, outcome.logs
    else:
        expect_error(outcome, "CheatingPays")


def test_initialize_market_fail_treasury_that_cannot_take_fees(runtime, funded):
    """A real validator refuses to credit an account below its rent-exempt minimum: such a treasury would fail
    every settlement, so the market is refused; the treasury named must also be the one passed."""
    authority, empty = funded(), Keypair().pubkey()
    expect_error(runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey(), treasury=empty))],
                              [authority]), "TreasuryNotRentExempt")
    good = ix.initialize_market(authority.pubkey(), config(authority.pubkey()))
    metas = [AccountMeta(empty, False, False) if m.pubkey == TREASURY else m for m in good.accounts]
    expect_error(runtime.send([Instruction(good.program_id, good.data, metas)], [authority]), "WrongMarket")
    assert runtime.account(market_address(authority.pubkey())[0]) is None
    # The README's market: the authority is its own treasury, and pays the market's rent from it.
    assert runtime.send([ix.initialize_market(authority.pubkey(), config(authority.pubkey(), treasury=authority.pubkey()))],
                        [authority]).ok


def test_update_market_fail_treasury_that_cannot_take_fees(runtime, market):
    before = runtime.account_data(market.address)
    moved = config(market.authority.pubkey(), treasury=Keypair().pubkey())
    expect_error(runtime.send([ix.update_market(market.authority.pubkey(), moved)], [market.authority]), "TreasuryNotRentExempt")
    assert runtime.account_data(market.address) == before


def test_initialize_market_fail_wrong_system_program(runtime, funded):
    authority = funded()
    market, _ = market_address(authority.pubkey())
    instruction = ix.build_instruction(
        "initialize_market",
        {"config": config(authority.pubkey()).to_idl()},
        {"authority": authority.pubkey(), "market": market, "treasury": TREASURY, "system_program": Keypair().pubkey()},
    )
    expect_error(runtime.send([instruction], [authority]), "InvalidSystemProgram")


def test_initialize_market_fail_non_canonical_bump(runtime, funded):
    """Only the highest off-curve bump makes the market's address: one seed set, one account."""
    authority = funded()
    canonical, bump = market_address(authority.pubkey())
    lower = next(address for b in range(bump - 1, -1, -1) if (address := _pda_or_none(
        [b"market", bytes(authority.pubkey()), bytes([b])], runtime.program_id)) is not None)
    instruction = ix.build_instruction(
        "initialize_market",
        {"config": config(authority.pubkey()).to_idl()},
        {"authority": authority.pubkey(), "market": lower, "treasury": TREASURY, "system_program": SYSTEM_PROGRAM_ID},
    )
    expect_error(runtime.send([instruction], [authority]), "InvalidPda")
    assert runtime.account(lower) is None and runtime.account(canonical) is None


def _pda_or_none(seeds, program_id):
    try:
        return Pubkey.create_program_address(seeds, program_id)
    except Exception:  # on the curve: that bump makes no PDA
        return None


def test_initialize_market_fail_authority_as_market(runtime, funded):
    authority = funded()
    instruction = ix.build_instruction(
        "initialize_market",
        {"config": config(authority.pubkey()).to_idl()},
        {"authority": authority.pubkey(), "market": authority.pubkey(), "treasury": TREASURY, "system_program": SYSTEM_PROGRAM_ID},
    )
    expect_error(runtime.send([instruction], [authority]), "InvalidPda")


def test_instruction_fail_malformed_data(runtime, funded):
    authority = funded()
    good = ix.initialize_market(authority.pubkey(), config(authority.pubkey()))
    for data, error in ((good.data[:-1], "InvalidInstructionData"), (good.data + b"\0", "InvalidInstructionData"),
                        (b"\x01" * 8, "UnknownInstruction"), (b"\x01\x02", "UnknownInstruction"), (b"", "UnknownInstruction")):
        outcome = runtime.send([Instruction(good.program_id, data, good.accounts)], [authority])
        expect_error(outcome, error)


def test_instruction_fail_not_enough_accounts(runtime, funded):
    authority = funded()
    good = ix.initialize_market(authority.pubkey(), config(authority.pubkey()))
    outcome = runtime.send([Instruction(good.program_id, good.data, good.accounts[:2])], [authority])
    expect_error(outcome, "NotEnoughAccounts")


def test_update_market_success(runtime, market):
    new = config(market.authority.pubkey(), fee_bps=300, min_stake=5 * SOL, sampling_rate_bps=3_000)
    outcome = runtime.send([ix.update_market(market.authority.pubkey(), new)], [market.authority])
    assert outcome.ok, outcome.logs
    account = MarketAccount.decode(runtime.account_data(market.address))
    assert (account.fee_bps, account.min_stake, account.sampling_rate_bps, account.treasury) == (300, 5 * SOL, 3_000, new.treasury)
    assert account.authority == market.authority.pubkey()
    assert [e.name for e in outcome.events] == ["MarketUpdated"]


def test_update_market_fail_wrong_authority(runtime, market, funded):
    intruder = funded()
    instruction = ix.build_instruction(
        "update_market",
        {"config": config(intruder.pubkey(), fee_bps=10_000).to_idl()},
        {"authority": intruder.pubkey(), "market": market.address, "treasury": TREASURY},
    )
    before = runtime.account_data(market.address)
    expect_error(runtime.send([instruction], [intruder]), "Unauthorized")
    assert runtime.account_data(market.address) == before


def test_update_market_fail_invalid_bps(runtime, market):
    outcome = runtime.send([ix.update_market(market.authority.pubkey(), config(market.authority.pubkey(), slash_bps=20_000))], [market.authority])
    expect_error(outcome, "InvalidBps")


def test_update_market_fail_cheating_pays(runtime, market):
    """An authority cannot lower the sampling rate, the slash or raise the price past where faking pays."""
    before = runtime.account_data(market.address)
    authority = market.authority.pubkey()
    for bad in ({"sampling_rate_bps": 100}, {"slash_bps": 100}, {"max_price_per_shard": 10**9}, {"min_stake": SOL // 100}):
        outcome = runtime.send([ix.update_market(authority, config(authority, **bad))], [market.authority])
        expect_error(outcome, "CheatingPays")
    assert runtime.account_data(market.address) == before


def test_create_job_fail_price_above_market_maximum(runtime, market, funded):
    """Deterrence holds at every price a job may set: none above the market's maximum."""
    authority = market.authority.pubkey()
    lower = config(authority, max_price_per_shard=500_000)
    assert runtime.send([ix.update_market(authority, lower)], [market.authority]).ok
    client = funded()
    job = dict(model_digest=b"m" * 32, input_root=b"i" * 32, seed_commitment=b"s" * 32, deadline=runtime.unix_time + 60,
               shard_count=1)
    expect_error(runtime.send([ix.create_job(client.pubkey(), market.address, 7, price_per_shard=500_001, **job)], [client]),
                 "PriceAboveMaximum")
    assert runtime.send([ix.create_job(client.pubkey(), market.address, 7, price_per_shard=500_000, **job)], [client]).ok


def test_update_market_fail_wrong_owner(runtime, market):
    """A copy of the market's bytes in an account the program does not own is refused."""
    fake = Keypair().pubkey()
    original = runtime.account(market.address)
    runtime.svm.set_account(fake, Account(original.lamports, original.data, SYSTEM_PROGRAM_ID, False, 0))
    instruction = ix.build_instruction(
        "update_market", {"config": market.config.to_idl()}, {"authority": market.authority.pubkey(), "market": fake, "treasury": TREASURY}
    )
    expect_error(runtime.send([instruction], [market.authority]), "InvalidAccountOwner")


def test_update_market_fail_wrong_discriminator(runtime, market):
    fake = Keypair().pubkey()
    original = runtime.account(market.address)
    data = bytearray(original.data)
    data[0] ^= 0xFF
    runtime.svm.set_account(fake, Account(original.lamports, bytes(data), runtime.program_id, False, 0))
    instruction = ix.build_instruction(
        "update_market", {"config": market.config.to_idl()}, {"authority": market.authority.pubkey(), "market": fake, "treasury": TREASURY}
    )
    expect_error(runtime.send([instruction], [market.authority]), "InvalidDiscriminator")


def test_update_market_fail_provider_passed_as_market(runtime, market, provider):
    instruction = ix.build_instruction(
        "update_market", {"config": market.config.to_idl()}, {"authority": market.authority.pubkey(), "market": provider.address, "treasury": TREASURY}
    )
    expect_error(runtime.send([instruction], [market.authority]), "InvalidAccountData")


def test_update_market_fail_not_writable(runtime, market):
    instruction = ix.update_market(market.authority.pubkey(), market.config)
    metas = [AccountMeta(m.pubkey, m.is_signer, is_writable=False) for m in instruction.accounts]
    expect_error(runtime.send([Instruction(instruction.program_id, instruction.data, metas)], [market.authority]), "AccountNotWritable")
