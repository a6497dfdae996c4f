"""register_provider, add_stake, request_unstake, withdraw_stake, update_provider in the real runtime."""

from __future__ import annotations

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from marketplace.chain import MarketAccount, ProviderAccount, ProviderStatus, market_address, provider_address
from marketplace.chain import instructions as ix
from marketplace.chain.program import account_size
from marketplace.chain.accounts import encode_endpoint, status_variant
from tests.program.conftest import FEE_PER_SIGNATURE, SOL, START_TIME, Balances, config, expect_error

PROVIDER_LEN = account_size("Provider")
U64_MAX = 2**64 - 1


def provider_state(runtime, address) -> ProviderAccount:
    return ProviderAccount.decode(runtime.account_data(address))


def market_state(runtime, address) -> MarketAccount:
    return MarketAccount.decode(runtime.account_data(address))


def register_args(endpoint="http://127.0.0.1:7001", stake=2 * SOL, capacity=4):
    return {"endpoint": encode_endpoint(endpoint) if isinstance(endpoint, str) else endpoint, "stake": stake, "capacity": capacity}


def register_accounts(owner, market, provider=None):
    provider = provider or provider_address(market, owner)[0]
    return {"owner": owner, "market": market, "provider": provider, "system_program": SYSTEM_PROGRAM_ID}


# register_provider

def test_register_provider_success(runtime, funded, market):
    owner = funded()
    address, bump = provider_address(market.address, owner.pubkey())
    balances = Balances(runtime, owner=owner.pubkey(), provider=address, market=market.address)

    outcome = runtime.send([ix.register_provider(owner.pubkey(), market.address, "https://gpu-1.example:8443/v1", 3 * SOL, 8)], [owner])

    assert outcome.ok, outcome.logs
    rent = runtime.rent_exempt_minimum(PROVIDER_LEN)
    assert balances.changes() == {"owner": -(rent + 3 * SOL) - FEE_PER_SIGNATURE, "provider": rent + 3 * SOL, "market": 0}
    state = provider_state(runtime, address)
    assert (state.market, state.owner, state.stake, state.locked_stake, state.unbonding_stake) == (market.address, owner.pubkey(), 3 * SOL, 0, 0)
    assert (state.capacity, state.status, state.bump, state.endpoint) == (8, ProviderStatus.ACTIVE, bump, "https://gpu-1.example:8443/v1")
    assert state.registered_at == START_TIME
    m = market_state(runtime, market.address)
    assert (m.total_stake, m.provider_count) == (3 * SOL, 1)
    [event] = outcome.events
    assert event.name == "ProviderRegistered" and event.data.stake == 3 * SOL and event.data.owner == owner.pubkey()


def test_register_provider_fail_stake_below_minimum(runtime, funded, market):
    owner = funded()
    balances = Balances(runtime, owner=owner.pubkey())
    outcome = runtime.send([ix.register_provider(owner.pubkey(), market.address, "http://a", SOL - 1, 1)], [owner])
    expect_error(outcome, "StakeBelowMinimum")
    assert balances.changes() == {"owner": -FEE_PER_SIGNATURE}
    assert runtime.account(provider_address(market.address, owner.pubkey())[0]) is None


def test_register_provider_fail_twice(runtime, market, provider):
    outcome = runtime.send([ix.register_provider(provider.owner.pubkey(), market.address, "http://a", 2 * SOL, 1)], [provider.owner])
    expect_error(outcome, "AccountAlreadyInitialized")


def test_register_provider_fail_spoofed_pda(runtime, funded, market):
    """A provider address derived for another owner is refused."""
    owner, other = funded(), funded()
    spoofed = provider_address(market.address, other.pubkey())[0]
    instruction = ix.build_instruction("register_provider", register_args(), register_accounts(owner.pubkey(), market.address, spoofed))
    expect_error(runtime.send([instruction], [owner]), "InvalidPda")
    assert runtime.account(spoofed) is None


def test_register_provider_fail_wrong_signer(runtime, funded, market):
    owner, payer = funded(), funded()
    instruction = ix.register_provider(owner.pubkey(), market.address, "http://a", 2 * SOL, 1)
    metas = [AccountMeta(m.pubkey, m.pubkey != owner.pubkey() and m.is_signer, m.is_writable) for m in instruction.accounts]
    outcome = runtime.send([Instruction(instruction.program_id, instruction.data, metas)], [payer])
    expect_error(outcome, "MissingSigner")


def test_register_provider_fail_market_not_a_market(runtime, funded):
    owner = funded()
    fake_market = Keypair().pubkey()
    runtime.airdrop(fake_market, SOL)  # a plain system account
    instruction = ix.register_provider(owner.pubkey(), fake_market, "http://a", 2 * SOL, 1)
    expect_error(runtime.send([instruction], [owner]), "InvalidAccountOwner")


def test_register_provider_fail_market_as_provider(runtime, funded, market):
    owner = funded()
    instruction = ix.build_instruction("register_provider", register_args(), register_accounts(owner.pubkey(), market.address, market.address))
    expect_error(runtime.send([instruction], [owner]), "AccountAlreadyInitialized")


def test_register_provider_fail_invalid_endpoint(runtime, funded, market):
    owner = funded()
    bad_endpoints = [
        [0] * 128,  # empty
        list(b"http://a b".ljust(128, b"\0")),  # space
        list(b"http://a\0junk".ljust(128, b"\0")),  # bytes after the padding
        list(b"http://\xff".ljust(128, b"\0")),  # not ASCII
    ]
    for endpoint in bad_endpoints:
        instruction = ix.build_instruction("register_provider", register_args(endpoint=endpoint), register_accounts(owner.pubkey(), market.address))
        expect_error(runtime.send([instruction], [owner]), "InvalidEndpoint")


def test_register_provider_fail_zero_capacity(runtime, funded, market):
    owner = funded()
    outcome = runtime.send([ix.register_provider(owner.pubkey(), market.address, "http://a", 2 * SOL, 0)], [owner])
    expect_error(outcome, "InvalidCapacity")


# add_stake

def test_add_stake_success(runtime, market, provider):
    owner = provider.owner
    balances = Balances(runtime, owner=owner.pubkey(), provider=provider.address)
    outcome = runtime.send([ix.add_stake(owner.pubkey(), market.address, SOL)], [owner])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"owner": -SOL - FEE_PER_SIGNATURE, "provider": SOL}
    assert provider_state(runtime, provider.address).stake == provider.stake + SOL
    assert market_state(runtime, market.address).total_stake == provider.stake + SOL
    [event] = outcome.events
    assert (event.name, event.data.amount, event.data.stake) == ("StakeAdded", SOL, provider.stake + SOL)


def test_add_stake_fail_wrong_owner(runtime, funded, market, provider):
    intruder = funded()
    accounts = {"owner": intruder.pubkey(), "market": market.address, "provider": provider.address, "system_program": SYSTEM_PROGRAM_ID}
    balances = Balances(runtime, intruder=intruder.pubkey(), provider=provider.address)
    expect_error(runtime.send([ix.build_instruction("add_stake", {"amount": SOL}, accounts)], [intruder]), "Unauthorized")
    assert balances.changes() == {"intruder": -FEE_PER_SIGNATURE, "provider": 0}


def test_add_stake_fail_wrong_market(runtime, funded, market, provider):
    other_authority = funded()
    assert runtime.send([ix.initialize_market(other_authority.pubkey(), config(other_authority.pubkey()))], [other_authority]).ok
    other_market = market_address(other_authority.pubkey())[0]
    accounts = {"owner": provider.owner.pubkey(), "market": other_market, "provider": provider.address, "system_program": SYSTEM_PROGRAM_ID}
    expect_error(runtime.send([ix.build_instruction("add_stake", {"amount": SOL}, accounts)], [provider.owner]), "WrongMarket")
    assert market_state(runtime, other_market).total_stake == 0


def test_add_stake_fail_overflow(runtime, market, provider):
    balances = Balances(runtime, owner=provider.owner.pubkey(), provider=provider.address)
    outcome = runtime.send([ix.add_stake(provider.owner.pubkey(), market.address, U64_MAX - provider.stake + 1)], [provider.owner])
    expect_error(outcome, "ArithmeticOverflow")
    assert balances.changes() == {"owner": -FEE_PER_SIGNATURE, "provider": 0}


def test_add_stake_fail_zero(runtime, market, provider):
    expect_error(runtime.send([ix.add_stake(provider.owner.pubkey(), market.address, 0)], [provider.owner]), "ZeroAmount")


def test_add_stake_fail_wrong_system_program(runtime, market, provider):
    accounts = {"owner": provider.owner.pubkey(), "market": market.address, "provider": provider.address, "system_program": runtime.program_id}
    expect_error(runtime.send([ix.build_instruction("add_stake", {"amount": SOL}, accounts)], [provider.owner]), "InvalidSystemProgram")


# request_unstake

def test_request_unstake_success(runtime, market, provider):
    outcome = runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL)], [provider.owner])
    assert outcome.ok, outcome.logs
    state = provider_state(runtime, provider.address)
    assert (state.stake, state.unbonding_stake) == (provider.stake - SOL, SOL)
    assert state.unbond_at == START_TIME + market.config.unbonding_period
    assert market_state(runtime, market.address).total_stake == provider.stake - SOL
    assert outcome.events[0].name == "UnstakeRequested"


def test_request_unstake_success_again_restarts_the_period(runtime, market, provider):
    assert runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL // 2)], [provider.owner]).ok
    runtime.advance(100)
    assert runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL // 2)], [provider.owner]).ok
    state = provider_state(runtime, provider.address)
    assert state.unbonding_stake == SOL
    assert state.unbond_at == START_TIME + 100 + market.config.unbonding_period


def test_request_unstake_fail_more_than_free_stake(runtime, market, provider):
    before = runtime.account_data(provider.address)
    outcome = runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, provider.stake + 1)], [provider.owner])
    expect_error(outcome, "InsufficientFreeStake")
    assert runtime.account_data(provider.address) == before


def test_request_unstake_fail_wrong_signer(runtime, funded, market, provider):
    intruder = funded()
    accounts = {"owner": intruder.pubkey(), "market": market.address, "provider": provider.address}
    expect_error(runtime.send([ix.build_instruction("request_unstake", {"amount": SOL}, accounts)], [intruder]), "Unauthorized")


# withdraw_stake

def test_withdraw_stake_fail_before_unbonding_period(runtime, market, provider):
    assert runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL)], [provider.owner]).ok
    runtime.advance(market.config.unbonding_period - 1)
    balances = Balances(runtime, owner=provider.owner.pubkey(), provider=provider.address)
    expect_error(runtime.send([ix.withdraw_stake(provider.owner.pubkey(), market.address)], [provider.owner]), "UnbondingNotElapsed")
    assert balances.changes() == {"owner": -FEE_PER_SIGNATURE, "provider": 0}


def test_withdraw_stake_success(runtime, market, provider):
    assert runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL)], [provider.owner]).ok
    runtime.advance(market.config.unbonding_period)
    balances = Balances(runtime, owner=provider.owner.pubkey(), provider=provider.address)
    outcome = runtime.send([ix.withdraw_stake(provider.owner.pubkey(), market.address)], [provider.owner])
    assert outcome.ok, outcome.logs
    assert balances.changes() == {"owner": SOL - FEE_PER_SIGNATURE, "provider": -SOL}
    state = provider_state(runtime, provider.address)
    assert (state.stake, state.unbonding_stake) == (provider.stake - SOL, 0)
    assert runtime.balance(provider.address) == runtime.rent_exempt_minimum(PROVIDER_LEN) + provider.stake - SOL
    assert (outcome.events[0].name, outcome.events[0].data.amount) == ("StakeWithdrawn", SOL)


def test_withdraw_stake_fail_nothing_to_withdraw(runtime, market, provider):
    expect_error(runtime.send([ix.withdraw_stake(provider.owner.pubkey(), market.address)], [provider.owner]), "NothingToWithdraw")


def test_withdraw_stake_fail_wrong_owner(runtime, funded, market, provider):
    assert runtime.send([ix.request_unstake(provider.owner.pubkey(), market.address, SOL)], [provider.owner]).ok
    runtime.advance(market.config.unbonding_period)
    thief = funded()
    balances = Balances(runtime, thief=thief.pubkey(), provider=provider.address)
    outcome = runtime.send([ix.build_instruction("withdraw_stake", {}, {"owner": thief.pubkey(), "provider": provider.address})], [thief])
    expect_error(outcome, "Unauthorized")
    assert balances.changes() == {"thief": -FEE_PER_SIGNATURE, "provider": 0}


def test_withdraw_stake_fail_owner_as_provider(runtime, market, provider):
    outcome = runtime.send([ix.build_instruction("withdraw_stake", {}, {"owner": provider.owner.pubkey(), "provider": provider.owner.pubkey()})], [provider.owner])
    expect_error(outcome, "InvalidAccountOwner")


def test_withdraw_stake_fail_market_passed_as_provider(runtime, market, provider):
    outcome = runtime.send([ix.build_instruction("withdraw_stake", {}, {"owner": provider.owner.pubkey(), "provider": market.address})], [provider.owner])
    expect_error(outcome, "InvalidAccountData")


# update_provider

def test_update_provider_success(runtime, market, provider):
    outcome = runtime.send([ix.update_provider(provider.owner.pubkey(), market.address, "http://10.0.0.2:9000", 16, ProviderStatus.PAUSED)], [provider.owner])
    assert outcome.ok, outcome.logs
    state = provider_state(runtime, provider.address)
    assert (state.endpoint, state.capacity, state.status, state.stake) == ("http://10.0.0.2:9000", 16, ProviderStatus.PAUSED, provider.stake)
    assert outcome.events[0].name == "ProviderUpdated"


def test_update_provider_fail_wrong_owner(runtime, funded, market, provider):
    intruder = funded()
    args = {"endpoint": encode_endpoint("http://evil"), "capacity": 1, "status": status_variant(ProviderStatus.ACTIVE)}
    before = runtime.account_data(provider.address)
    expect_error(runtime.send([ix.build_instruction("update_provider", args, {"owner": intruder.pubkey(), "provider": provider.address})], [intruder]), "Unauthorized")
    assert runtime.account_data(provider.address) == before


def test_update_provider_fail_invalid_status(runtime, market, provider):
    good = ix.update_provider(provider.owner.pubkey(), market.address, "http://a", 1, ProviderStatus.ACTIVE)
    data = bytes(good.data[:-1]) + bytes([2])
    expect_error(runtime.send([Instruction(good.program_id, data, good.accounts)], [provider.owner]), "InvalidStatus")
