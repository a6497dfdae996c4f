"""Bad input never crashes or corrupts localnet: standard JSON-RPC errors, and it keeps serving."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from tests.integration.conftest import SOL, rpc_call


async def post(url: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers={"content-type": content_type}) as response:
            text = await response.text()
            try:
                return response.status, __import__("json").loads(text)
            except ValueError:
                return response.status, text


# A legacy transaction that claims no signatures (a message with an empty header), as a fuzzer sends it.
ZERO_SIGNATURES = base64.b64encode(bytes([0]) + bytes(Message([], Keypair().pubkey()))).decode()


@pytest.mark.parametrize("body,code", [
    (b"{not json", -32700),
    (b"\xff\xfe", -32700),
    (b"[]", -32600),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "getSlot"}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": 42}', -32600),
    (b'{"jsonrpc": "2.0", "id": {"x": 1}, "method": "getSlot"}', -32600),
    (b'"just a string"', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "stealLamports"}', -32601),
    (b"[" * 1100 + b"]" * 1100, -32700),  # nested past the parser's depth
])
async def test_malformed_requests_get_standard_errors(net, body, code):
    status, answer = await post(net.url, body)
    assert status == 200
    assert answer["error"]["code"] == code


@pytest.mark.parametrize("method,params", [
    ("getBalance", []),
    ("getBalance", ["not-a-key"]),
    ("getBalance", [123]),
    ("getAccountInfo", ["11111111111111111111111111111111", "base64"]),
    ("getAccountInfo", ["11111111111111111111111111111111", {"encoding": "utf8"}]),
    ("getMultipleAccounts", [["11111111111111111111111111111111"] * 101]),
    ("getProgramAccounts", ["11111111111111111111111111111111", {"filters": [{"memcmp": {"offset": -1, "bytes": "1"}}]}]),
    ("getProgramAccounts", ["11111111111111111111111111111111", {"filters": [{"bogus": 1}]}]),
    ("requestAirdrop", ["11111111111111111111111111111111", -5]),
    ("requestAirdrop", ["11111111111111111111111111111111", 10**30]),
    ("getMinimumBalanceForRentExemption", ["big"]),
    ("sendTransaction", ["%%%", {"encoding": "base58"}]),
    ("sendTransaction", [base64.b64encode(b"\x01garbage transaction bytes").decode(), {"encoding": "base64"}]),
    ("sendTransaction", ["AAAA", {"encoding": "base64"}]),
    ("getTransaction", ["bad-signature"]),
    ("getSignatureStatuses", ["not-a-list"]),
    ("getBlock", [-1]),
    ("getSignaturesForAddress", ["11111111111111111111111111111111", {"limit": 0}]),
    ("getFeeForMessage", ["!!"]),
    ("getBalance", {"pubkey": "11111111111111111111111111111111"}),
    ("isBlockhashValid", ["1" * 5000]),
    ("simulateTransaction", [ZERO_SIGNATURES, {"encoding": "base64", "accounts": "all of them"}]),
    ("simulateTransaction", [ZERO_SIGNATURES, {"encoding": "base64", "accounts": {"addresses": "one"}}]),
    ("sendTransaction", [ZERO_SIGNATURES, {"encoding": "base64", "skipPreflight": True}]),
])
async def test_wrong_params_get_invalid_params(net, method, params):
    answer = await rpc_call(net.url, method, params)
    assert answer["error"]["code"] == -32602, answer


async def test_a_transaction_larger_than_a_packet_is_refused_as_a_validator_does(net):
    payer = Keypair()
    await rpc_call(net.url, "requestAirdrop", [str(payer.pubkey()), SOL])
    memo = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
    big = Instruction(memo, b"m" * 1_200, [])
    blockhash = (await rpc_call(net.url, "getLatestBlockhash"))["result"]["value"]["blockhash"]
    raw = bytes(Transaction([payer], Message([big], payer.pubkey()), Hash.from_string(blockhash)))
    assert len(raw) > 1_232
    answer = await rpc_call(net.url, "sendTransaction", [base64.b64encode(raw).decode(), {"encoding": "base64"}])
    assert answer["error"]["code"] == -32602 and "too large" in answer["error"]["message"], answer
    assert net.chain.balance(payer.pubkey()) == SOL


async def test_oversized_body_is_refused(net):
    status, _ = await post(net.url, b'{"jsonrpc": "2.0", "id": 1, "method": "getSlot", "pad": "' + b"x" * 60_000 + b'"}')
    assert status == 413
    assert (await rpc_call(net.url, "getHealth"))["result"] == "ok"


async def test_batch_mixes_results_and_errors(net):
    body = b'[{"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, {"jsonrpc": "2.0", "id": 2, "method": "nope"}, 5]'
    _, answer = await post(net.url, body)
    assert "result" in answer[0] and answer[1]["error"]["code"] == -32601 and answer[2]["error"]["code"] == -32600
    assert [a["id"] for a in answer] == [1, 2, None]


async def test_batch_answers_in_order_and_leaves_notifications_unanswered(net):
    key = str(Keypair().pubkey())
    batch = [{"jsonrpc": "2.0", "id": "b", "method": "getBalance", "params": [key]},
             {"jsonrpc": "2.0", "method": "requestAirdrop", "params": [key, SOL]},  # a notification: run, not answered
             {"jsonrpc": "2.0", "id": None, "method": "getBalance", "params": [key]},
             {"jsonrpc": "2.0", "id": 4, "method": "getBalance", "params": ["nope"]}]
    _, answer = await post(net.url, __import__("json").dumps(batch))
    assert [a["id"] for a in answer] == ["b", None, 4]
    assert answer[0]["result"]["value"] == 0 and answer[1]["result"]["value"] == SOL and answer[2]["error"]["code"] == -32602
    status, nothing = await post(net.url, '[{"jsonrpc": "2.0", "method": "getSlot"}]')
    assert (status, nothing) == (200, "")
    status, nothing = await post(net.url, '{"jsonrpc": "2.0", "method": "getSlot"}')
    assert (status, nothing) == (200, "")


async def test_bad_input_changes_nothing(net):
    key = Keypair().pubkey()
    await rpc_call(net.url, "requestAirdrop", [str(key), SOL])
    slot, count = net.chain.slot, len(net.chain.transactions)
    for body in (b"{", b'{"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": ["AAAA", {"encoding": "base64"}]}'):
        await post(net.url, body)
    assert len(net.chain.transactions) == count and net.chain.balance(key) == SOL
    assert net.chain.slot >= slot


async def test_serves_100_concurrent_clients(net):
    keys = [Keypair().pubkey() for _ in range(100)]

    async def one_client(key):
        async with aiohttp.ClientSession() as session:
            for method, params in (("requestAirdrop", [str(key), SOL]), ("getBalance", [str(key)]), ("getSlot", [])):
                async with session.post(net.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) as r:
                    answer = await r.json()
                    assert "result" in answer, answer
            return answer

    await asyncio.gather(*(one_client(k) for k in keys))
    assert all(net.chain.balance(k) == SOL for k in keys)
    assert len(set(net.chain.transactions)) == 100


async def test_websocket_bad_input(net):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(net.ws_url) as ws:
            for message in ("{", '{"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", "params": ["bad"]}',
                            '{"jsonrpc": "2.0", "id": 2, "method": "fooSubscribe"}',
                            '{"jsonrpc": "2.0", "id": 3, "method": "slotUnsubscribe", "params": [999]}'):
                await ws.send_str(message)
            codes = [(await ws.receive_json())["error"]["code"] for _ in range(4)]
            assert codes == [-32700, -32602, -32601, -32602]
            await ws.send_str('{"jsonrpc": "2.0", "id": 4, "method": "slotSubscribe"}')
            assert isinstance((await ws.receive_json())["result"], int)


@pytest.mark.parametrize("skip_preflight", [False, True])
async def test_forged_signature_is_rejected_and_nothing_moves(net, skip_preflight):
    from solders.message import Message
    from solders.system_program import TransferParams, transfer
    from solders.transaction import Transaction

    victim, thief = Keypair(), Keypair()
    await rpc_call(net.url, "requestAirdrop", [str(victim.pubkey()), SOL])
    signed_by_thief = Transaction([thief], Message([transfer(TransferParams(from_pubkey=thief.pubkey(), to_pubkey=thief.pubkey(), lamports=1))], thief.pubkey()), net.chain.latest_blockhash)
    steal = transfer(TransferParams(from_pubkey=victim.pubkey(), to_pubkey=thief.pubkey(), lamports=SOL // 2))
    forged = Transaction.populate(Message.new_with_blockhash([steal], victim.pubkey(), net.chain.latest_blockhash), [signed_by_thief.signatures[0]])
    answer = await rpc_call(net.url, "sendTransaction", [base64.b64encode(bytes(forged)).decode(), {"encoding": "base64", "skipPreflight": skip_preflight}])
    assert answer["error"]["code"] == -32002
    assert net.chain.balance(victim.pubkey()) == SOL and net.chain.balance(thief.pubkey()) == 0


async def test_block_time_of_a_future_slot_is_block_not_available(net):
    answer = await rpc_call(net.url, "getBlockTime", [10**9])
    assert answer["error"] == {"code": -32004, "message": "Block not available for slot 1000000000"}
