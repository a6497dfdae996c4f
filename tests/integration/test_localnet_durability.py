"""With --ledger, every committed transaction survives kill -9 and restart."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.message import Message
from solders.transaction import Transaction

from localnet.process import LocalnetProcess
from marketplace.chain import MarketAccount, MarketConfig, market_address
from marketplace.chain import instructions as ix
from tests.integration.conftest import SOL

pytestmark = pytest.mark.slow


async def test_state_and_history_survive_kill_9(tmp_path):
    ledger = tmp_path / "ledger"
    authority = Keypair()
    market, _ = market_address(authority.pubkey())
    async with LocalnetProcess(ledger=ledger) as first:
        client = AsyncClient(first.url)
        airdrop = (await client.request_airdrop(authority.pubkey(), 10 * SOL)).value
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        config = MarketConfig(authority.pubkey(), authority.pubkey(), SOL, 60, 60, 100, 100, 100)
        tx = Transaction([authority], Message([ix.initialize_market(authority.pubkey(), config)], authority.pubkey()), blockhash)
        created = (await client.send_transaction(tx)).value
        slot_before = (await client.get_slot()).value

        # A burst of airdrops, killed in the middle: what was acknowledged must survive.
        receivers = [Keypair().pubkey() for _ in range(40)]
        acknowledged: list[tuple[str, str]] = []

        async def airdrop_one(session, key):
            body = {"jsonrpc": "2.0", "id": 1, "method": "requestAirdrop", "params": [str(key), SOL]}
            try:
                async with session.post(first.url, json=body) as response:
                    answer = await response.json()
                    if "result" in answer:
                        acknowledged.append((str(key), answer["result"]))
            except aiohttp.ClientError:
                pass

        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.create_task(airdrop_one(session, key)) for key in receivers]
            while len(acknowledged) < 10:
                await asyncio.sleep(0.005)
            first.kill()
            await asyncio.gather(*tasks)
        await client.close()

    assert len(acknowledged) >= 10
    async with LocalnetProcess(ledger=ledger, port=first.port) as second:
        client = AsyncClient(second.url)
        statuses = (await client.get_signature_statuses([airdrop, created], search_transaction_history=True)).value
        assert all(s is not None and s.err is None for s in statuses)
        account = MarketAccount.decode((await client.get_account_info(market)).value.data)
        assert account.authority == authority.pubkey()
        assert (await client.get_balance(authority.pubkey())).value == 10 * SOL - 5_000 - (await client.get_balance(market)).value
        for key, _signature in acknowledged:
            assert (await client.get_balance(Pubkey.from_string(key))).value == SOL
        tx = (await client.get_transaction(created)).value
        assert tx.transaction.meta.err is None
        assert (await client.get_slot()).value >= slot_before
        # The chain goes on: same faucet, new transactions.
        assert (await client.request_airdrop(Keypair().pubkey(), SOL)).value
        await client.close()

    async with LocalnetProcess(ledger=ledger, reset=True) as fresh:
        client = AsyncClient(fresh.url)
        assert (await client.get_account_info(market)).value is None
        await client.close()


async def test_slots_and_block_heights_never_go_back_across_kill_9(tmp_path):
    """Slots pass on the clock without transactions; a restart must not rewind them to the last commit."""
    ledger = tmp_path / "ledger"
    async with LocalnetProcess(ledger=ledger) as first:
        client = AsyncClient(first.url)
        await client.request_airdrop(Keypair().pubkey(), SOL)  # the last commit
        await asyncio.sleep(3)  # ~7 slots on the clock, none committed
        slot, height = (await client.get_slot()).value, (await client.get_block_height()).value
        first.kill()
        await client.close()
    async with LocalnetProcess(ledger=ledger, port=first.port) as second:
        client = AsyncClient(second.url)
        assert (await client.get_slot()).value > slot and (await client.get_block_height()).value > height
        await client.close()
