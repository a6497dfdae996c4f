"""PubSub over WebSocket: blocks, roots, slot updates and votes of the one validator, parsed by solana-py's typed
messages; confirmations before notifications; several subscriptions on one connection, each its own."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from solana.rpc.websocket_api import connect
from solders.keypair import Keypair
from solders.rpc.config import RpcBlockSubscribeFilterMentions
from solders.system_program import TransferParams, transfer

from tests.integration.conftest import SOL
from tests.integration.test_localnet_clients import send


async def test_blocks_roots_slot_updates_and_votes_on_one_connection(net, client, wallet):
    target = Keypair().pubkey()
    async with connect(net.ws_url) as ws:
        await ws.block_subscribe(RpcBlockSubscribeFilterMentions(target))
        await ws.root_subscribe()
        await ws.slots_updates_subscribe()
        await ws.vote_subscribe()
        ids = [(await ws.recv())[0].result for _ in range(4)]
        assert len(set(ids)) == 4
        kind_of = dict(zip(ids, ("block", "root", "slotsUpdates", "vote")))
        signature = await send(client, [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=target, lamports=SOL))], [wallet])
        seen: dict[str, list] = {kind: [] for kind in kind_of.values()}
        async with asyncio.timeout(5):
            while not seen["block"] or not all(seen.values()):
                for message in await ws.recv():
                    seen[kind_of[message.subscription]].append(message)
    [block] = seen["block"]  # only the block mentioning the target
    value = block.result.value
    assert value.err is None and str(value.block.transactions[0].transaction.signatures[0]) == str(signature)
    assert value.slot == block.result.context.slot
    assert all(isinstance(m.result, int) for m in seen["root"])
    assert {type(m.result).__name__ for m in seen["slotsUpdates"]} >= {"SlotUpdateCreatedBank", "SlotUpdateFrozen", "SlotUpdateRoot"}
    vote = seen["vote"][0].result
    assert vote.vote_pubkey == net.chain.vote_account and len(vote.slots) == 1
    assert vote.signature.verify(net.chain.faucet.pubkey(), bytes(vote.vote_pubkey) + vote.slots[0].to_bytes(8, "little") + bytes(vote.hash))


async def _exchange(ws, request: dict, count: int) -> list[dict]:
    await ws.send_json(request)
    async with asyncio.timeout(5):
        return [json.loads((await ws.receive()).data) for _ in range(count)]


async def test_a_processed_signature_is_confirmed_before_it_is_notified(net, client, wallet):
    signature = await send(client, [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))], [wallet])
    async with aiohttp.ClientSession() as session, session.ws_connect(net.ws_url) as ws:
        confirmation, notification = await _exchange(ws, {"jsonrpc": "2.0", "id": 7, "method": "signatureSubscribe",
                                                          "params": [str(signature), {"commitment": "finalized"}]}, 2)
    assert confirmation["id"] == 7 and isinstance(confirmation["result"], int)
    assert notification["method"] == "signatureNotification"
    assert notification["params"]["subscription"] == confirmation["result"]
    assert notification["params"]["result"]["value"] == {"err": None}


async def test_bad_block_and_vote_subscriptions_get_errors_and_unsubscribe_works(net):
    async with aiohttp.ClientSession() as session, session.ws_connect(net.ws_url) as ws:
        for params in (["mine"], [{"mentionsAccountOrProgram": "nope"}], ["all", {"encoding": "yaml"}],
                       ["all", {"transactionDetails": "most"}]):
            [answer] = await _exchange(ws, {"jsonrpc": "2.0", "id": 1, "method": "blockSubscribe", "params": params}, 1)
            assert answer["error"]["code"] == -32602, params
        [subscribed] = await _exchange(ws, {"jsonrpc": "2.0", "id": 2, "method": "voteSubscribe"}, 1)
        await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "voteUnsubscribe", "params": [subscribed["result"]]})
        async with asyncio.timeout(5):
            while (message := json.loads((await ws.receive()).data)).get("id") != 3:
                assert message["method"] == "voteNotification"  # sent before the unsubscribe was read
        assert message["result"] is True
        [again] = await _exchange(ws, {"jsonrpc": "2.0", "id": 4, "method": "voteUnsubscribe", "params": [subscribed["result"]]}, 1)
        assert again["error"]["code"] == -32602
