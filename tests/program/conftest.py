"""Fixtures for the program's tests: the shipped .so in LiteSVM, funded keys, a market."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet import LAMPORTS_PER_SIGNATURE, LocalRuntime, TransactionOutcome
from marketplace.chain import MarketConfig, market_address, provider_address
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


def config(authority: Pubkey, **overrides) -> MarketConfig:
    values = dict(
        verifier=authority, treasury=Keypair().pubkey(), min_stake=SOL, unbonding_period=7 * 24 * 3600,
        claim_timeout=60, fee_bps=200, slash_bps=5_000, sampling_rate_bps=1_000,
    )
    values.update(overrides)
    return MarketConfig(**values)


@pytest.fixture
def runtime() -> LocalRuntime:
    return LocalRuntime(unix_time=START_TIME)


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
