"""Fixtures for the program's tests: the shipped .so in LiteSVM, funded keys, a market."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet import LAMPORTS_PER_SIGNATURE, LocalRuntime, TransactionOutcome
from marketplace.chain import MarketAccount, MarketConfig, job_address, market_address, provider_address
from marketplace.chain import instructions as ix
from marketplace.chain.program import idl_json

SOL = 1_000_000_000
FEE_PER_SIGNATURE = LAMPORTS_PER_SIGNATURE
START_TIME = 1_750_000_000
ERRORS = {e["name"]: e["code"] for e in idl_json()["errors"]}


def expect_error(outcome: TransactionOutcome, name: str) -> None:
    assert not outcome.ok, f"expected {name}, but the transaction succeeded"
    assert outcome.custom_error == ERRORS[name], f"expected {name} ({ERRORS[name]}), got {outcome.error}\n" + "\n".join(outcome.logs)


class Balances:
    """Lamports of some accounts before a transaction, to check what moved."""

    def __init__(self, runtime: LocalRuntime, **accounts: Pubkey) -> None:
        self.runtime, self.accounts = runtime, accounts
        self.before = {name: runtime.balance(key) for name, key in accounts.items()}

    def changes(self) -> dict[str, int]:
        return {name: self.runtime.balance(key) - self.before[name] for name, key in self.accounts.items()}


# Every test's runtime funds this treasury: the program refuses one that cannot take fees.
TREASURY = Keypair().pubkey()


def config(authority: Pubkey, **overrides) -> MarketConfig:
    values = dict(
        verifier=authority, treasury=TREASURY, min_stake=SOL, unbonding_period=7 * 24 * 3600,
        claim_timeout=60, fee_bps=200, slash_bps=5_000, sampling_rate_bps=1_000, max_price_per_shard=10_000_000,
    )
    values.update(overrides)
    return MarketConfig(**values)


@pytest.fixture
def runtime() -> LocalRuntime:
    runtime = LocalRuntime(unix_time=START_TIME)
    runtime.airdrop(TREASURY, runtime.rent_exempt_minimum(0))
    return runtime


@pytest.fixture
def funded(runtime: LocalRuntime):
    def make(lamports: int = 100 * SOL) -> Keypair:
        key = Keypair()
        runtime.airdrop(key.pubkey(), lamports)
        return key

    return make


@dataclass
class MarketFixture:
    authority: Keypair
    address: Pubkey
    config: MarketConfig


@pytest.fixture
def market(runtime: LocalRuntime, funded) -> MarketFixture:
    authority = funded()
    cfg = config(authority.pubkey())
    outcome = runtime.send([ix.initialize_market(authority.pubkey(), cfg)], [authority])
    assert outcome.ok, outcome.logs
    return MarketFixture(authority, market_address(authority.pubkey())[0], cfg)


@dataclass
class ProviderFixture:
    owner: Keypair
    address: Pubkey
    stake: int


@pytest.fixture
def provider(runtime: LocalRuntime, funded, market: MarketFixture) -> ProviderFixture:
    owner = funded()
    stake = 2 * SOL
    outcome = runtime.send([ix.register_provider(owner.pubkey(), market.address, "http://127.0.0.1:7001", stake, 4)], [owner])
    assert outcome.ok, outcome.logs
    return ProviderFixture(owner, provider_address(market.address, owner.pubkey())[0], stake)


@dataclass
class JobFixture:
    client: Keypair
    address: Pubkey
    job_id: int
    seed: bytes
    price: int
    shard_count: int
    deadline: int


def create_job(runtime: LocalRuntime, market: MarketFixture, client: Keypair, *, shard_count: int = 8,
               price: int = 1_000_000, lifetime: int = 3600) -> JobFixture:
    seed = hashlib.sha256(bytes(client.pubkey()) + shard_count.to_bytes(4, "little")).digest()
    job_id = MarketAccount.decode(runtime.account_data(market.address)).jobs_created
    deadline = runtime.unix_time + lifetime
    instruction = ix.create_job(
        client.pubkey(), market.address, job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
        seed_commitment=hashlib.sha256(seed).digest(), price_per_shard=price, deadline=deadline, shard_count=shard_count,
    )
    outcome = runtime.send([instruction], [client])
    assert outcome.ok, outcome.logs
    return JobFixture(client, job_address(market.address, job_id)[0], job_id, seed, price, shard_count, deadline)


@pytest.fixture
def job(runtime: LocalRuntime, funded, market: MarketFixture) -> JobFixture:
    return create_job(runtime, market, funded())


@pytest.fixture
def providers(runtime: LocalRuntime, funded, market: MarketFixture) -> list[ProviderFixture]:
    """Three registered providers with different owners."""
    result = []
    for port in (7001, 7002, 7003):
        owner = funded()
        outcome = runtime.send([ix.register_provider(owner.pubkey(), market.address, f"http://127.0.0.1:{port}", 2 * SOL, 4)], [owner])
        assert outcome.ok, outcome.logs
        result.append(ProviderFixture(owner, provider_address(market.address, owner.pubkey())[0], 2 * SOL))
    return result
