"""Codecs of the chain bindings round-trip and refuse what is not theirs."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import AccountDecodeError, MarketAccount, MarketConfig, ProviderAccount, ProviderStatus, program_error
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import decode_endpoint, encode_endpoint
from marketplace.chain.errors import InstructionArgumentError
from marketplace.chain.program import PROGRAM_ID, coder, market_address, provider_address


def key() -> Pubkey:
    return Keypair().pubkey()


def sample_market() -> MarketAccount:
    return MarketAccount(key(), key(), key(), 10**9, 604_800, 60, 7, 5 * 10**9, 3, 200, 5_000, 1_000, 254)


def sample_provider() -> ProviderAccount:
    return ProviderAccount(key(), key(), 3 * 10**9, 10**9, 5 * 10**8, 1_750_000_000, 1_700_000_000, 12, 1, 8,
                           ProviderStatus.PAUSED, 253, "https://gpu.example:8443/v1")


def test_market_account_round_trip():
    market = sample_market()
    assert MarketAccount.decode(market.encode()) == market


def test_provider_account_round_trip():
    provider = sample_provider()
    assert ProviderAccount.decode(provider.encode()) == provider
    assert provider.free_stake == 2 * 10**9


def test_decode_refuses_another_account_type():
    with pytest.raises(AccountDecodeError, match="expected a Market account, found Provider"):
        MarketAccount.decode(sample_provider().encode())


def test_decode_refuses_truncated_and_foreign_bytes():
    with pytest.raises(AccountDecodeError):
        MarketAccount.decode(sample_market().encode()[:-10])
    with pytest.raises(AccountDecodeError):
        ProviderAccount.decode(b"\x00" * 264)


def test_endpoint_round_trip_and_limits():
    assert decode_endpoint(encode_endpoint("http://127.0.0.1:7001")) == "http://127.0.0.1:7001"
    assert len(encode_endpoint("x" * 128)) == 128
    for bad in ("", "x" * 129, "http://a b", "http://é", "http://a\x00"):
        with pytest.raises(InstructionArgumentError):
            encode_endpoint(bad)


def test_instruction_data_round_trips_through_anchorpy():
    authority = key()
    config = MarketConfig(key(), key(), 10**9, 3600, 60, 100, 200, 300)
    instruction = ix.initialize_market(authority, config)
    decoded = coder().instruction.parse(bytes(instruction.data))
    assert decoded.name == "initialize_market"
    assert MarketConfig(**{f: getattr(decoded.data.config, f) for f in config.to_idl()}) == config
    assert instruction.program_id == PROGRAM_ID
    assert [m.pubkey for m in instruction.accounts][:2] == [authority, market_address(authority)[0]]


def test_instruction_accounts_follow_the_idl():
    owner, market = key(), key()
    instruction = ix.add_stake(owner, market, 5)
    flags = [(m.pubkey, m.is_signer, m.is_writable) for m in instruction.accounts]
    assert flags[:3] == [(owner, True, True), (market, False, True), (provider_address(market, owner)[0], False, True)]


def test_builders_refuse_out_of_range_arguments():
    with pytest.raises(InstructionArgumentError):
        ix.add_stake(key(), key(), 2**64)
    with pytest.raises(InstructionArgumentError):
        ix.add_stake(key(), key(), -1)
    with pytest.raises(InstructionArgumentError):
        ix.register_provider(key(), key(), "http://a", 10**9, 2**32)
    with pytest.raises(InstructionArgumentError, match="account 'provider' is missing"):
        ix.build_instruction("withdraw_stake", {}, {"owner": key()})
    with pytest.raises(InstructionArgumentError, match="no instruction"):
        ix.build_instruction("steal", {}, {})


def test_program_errors_are_named_from_the_idl():
    err = program_error(6003)
    assert (err.code, err.name) == (6003, "MissingSigner")
    assert "MissingSigner (6003)" in str(err)
    assert program_error(42) is None
