"""The aggregator's subscriptions to the channels it views, against localnet's PubSub in its own process: a viewed
account's changes reach its view without a read, and once the node has been killed and restarted the watch connects
again by itself and hears them again."""

from __future__ import annotations

import asyncio

from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet.process import LocalnetProcess
from marketplace.aggregator.channel_views import ChannelViews
from marketplace.aggregator.channel_watch import ChannelWatch
from marketplace.aggregator.payments import ChannelState
from marketplace.chain import ChannelAccount
from marketplace.chain.client import TesseraChain
from tests.integration.market import SOL

# A system account stands in for a channel: what is watched is its lamports.
ACCOUNT = ChannelAccount(Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique(), 0, 1, 3_600, 0, 0, 255)


async def test_a_watched_account_is_heard_and_heard_again_after_the_node_restarts(tmp_path):
    ledger = tmp_path / "ledger"
    net = await LocalnetProcess(ledger=ledger, log=tmp_path / "localnet.log").start()
    chain = TesseraChain(net.url)
    target = Keypair().pubkey()
    reads = 0

    async def read(address: Pubkey) -> ChannelState:
        nonlocal reads
        reads += 1
        answer = await chain.rpc.get_balance(address)
        return ChannelState(address, ACCOUNT, answer.value, answer.context.slot)

    def decoded(address: Pubkey, account: Account, slot: int) -> ChannelState:
        return ChannelState(address, ACCOUNT, account.lamports, slot)

    async def accept(state: ChannelState) -> ChannelState:
        return state

    async def heard() -> None:
        """Airdrops until the view shows one without being read: the first may land before a subscription is."""
        async with asyncio.timeout(20):
            while True:
                before = views.peek(target).free
                await chain.airdrop(target, 1)
                for _ in range(25):
                    if views.peek(target).free > before:
                        return
                    await asyncio.sleep(0.02)

    views = ChannelViews(read)
    watcher = asyncio.create_task(ChannelWatch(net.ws_url, views, decoded).run())
    try:
        await chain.airdrop(target, SOL)
        assert (await views.check(target, accept)).free == SOL
        await heard()
        net.kill()
        net = await LocalnetProcess(ledger=ledger, port=net.port, log=tmp_path / "localnet.log").start()
        await heard()
        assert reads == 1
        assert views.peek(target).free == (await chain.rpc.get_balance(target)).value
    finally:
        watcher.cancel()
        await chain.close()
        await net.stop()
