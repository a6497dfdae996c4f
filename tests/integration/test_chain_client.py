"""The chain client: typed accounts, confirmed sends and named program errors through localnet."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from marketplace.chain import MarketAccount, MarketConfig, ProgramError, ProviderAccount, market_address
from marketplace.chain import instructions as ix
from marketplace.chain.client import TesseraChain
from tests.integration.conftest import SOL


async def test_send_fetch_and_named_errors(net):
    async with TesseraChain(net.url) as chain:
        authority, owner = Keypair(), Keypair()
        await chain.airdrop(authority.pubkey(), 10 * SOL)
        await chain.airdrop(owner.pubkey(), 10 * SOL)
        config = MarketConfig(authority.pubkey(), authority.pubkey(), SOL, 60, 60, 100, 1_000, 1_000)
        sent = await chain.send([ix.initialize_market(authority.pubkey(), config)], [authority])
        assert [e.name for e in sent.events] == ["MarketInitialized"] and sent.fee == 5_000
        market = market_address(authority.pubkey())[0]
        assert (await chain.fetch(MarketAccount, market)).min_stake == SOL
        await chain.send([ix.register_provider(owner.pubkey(), market, "http://127.0.0.1:7001", 2 * SOL, 2)], [owner])
        [(address, provider)] = await chain.all(ProviderAccount, market)
        assert provider.owner == owner.pubkey()
        assert await chain.fetch(MarketAccount, Keypair().pubkey()) is None
        with pytest.raises(ProgramError) as caught:
            await chain.send([ix.register_provider(owner.pubkey(), market, "http://127.0.0.1:7001", 2 * SOL, 2)], [owner])
        assert caught.value.name == "AccountAlreadyInitialized"
