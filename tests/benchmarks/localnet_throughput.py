"""localnet over HTTP versus the same work on LiteSVM in-process, measured side by side.

Transactions are signed before the clock starts on both sides, so the ratio
is what the JSON-RPC server (HTTP, parsing, history, slot bookkeeping) costs.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass

import aiohttp
import uvloop
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from localnet import LocalRuntime
from localnet.process import LocalnetProcess

TRANSACTIONS = 400
READS = 2_000
CONCURRENCY = 8
SOL = 1_000_000_000


@dataclass(frozen=True)
class Throughput:
    what: str
    direct_per_s: float
    http_per_s: float

    @property
    def ratio(self) -> float:
        return self.http_per_s / self.direct_per_s


def _transfers(payer: Keypair, blockhash, count: int) -> list[Transaction]:
    target = Keypair().pubkey()
    return [Transaction([payer], Message([transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=target, lamports=i + 1))], payer.pubkey()), blockhash)
            for i in range(count)]


def _direct() -> tuple[float, float]:
    runtime = LocalRuntime()
    payer = Keypair()
    runtime.airdrop(payer.pubkey(), 1_000 * SOL)
    svm = runtime.svm
    txs = _transfers(payer, svm.latest_blockhash(), TRANSACTIONS)
    start = time.perf_counter()
    for tx in txs:
        svm.send_transaction(tx)
    tx_rate = TRANSACTIONS / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(READS):
        svm.get_account(payer.pubkey())
    return tx_rate, READS / (time.perf_counter() - start)


async def _http() -> tuple[float, float]:
    async with LocalnetProcess() as net, aiohttp.ClientSession() as session:
        async def call(method, params):
            async with session.post(net.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) as r:
                answer = await r.json()
                if "error" in answer:
                    raise RuntimeError(f"{method} failed: {answer['error']}")
                return answer["result"]

        payer = Keypair()
        await call("requestAirdrop", [str(payer.pubkey()), 1_000 * SOL])
        blockhash = (await call("getLatestBlockhash", []))["value"]["blockhash"]
        from solders.hash import Hash

        encoded = [base64.b64encode(bytes(tx)).decode() for tx in _transfers(payer, Hash.from_string(blockhash), TRANSACTIONS)]

        async def worker(items, method, make_params):
            for item in items:
                await call(method, make_params(item))

        start = time.perf_counter()
        await asyncio.gather(*(worker(encoded[i::CONCURRENCY], "sendTransaction", lambda tx: [tx, {"encoding": "base64"}])
                               for i in range(CONCURRENCY)))
        tx_rate = TRANSACTIONS / (time.perf_counter() - start)
        key = str(payer.pubkey())
        start = time.perf_counter()
        await asyncio.gather(*(worker(range(READS // CONCURRENCY), "getAccountInfo", lambda _: [key, {"encoding": "base64"}])
                               for _ in range(CONCURRENCY)))
        return tx_rate, READS / (time.perf_counter() - start)


def measure() -> list[Throughput]:
    direct_tx, direct_read = _direct()
    http_tx, http_read = uvloop.run(_http())
    return [Throughput("transactions (transfer, preflight on)", direct_tx, http_tx),
            Throughput("getAccountInfo", direct_read, http_read)]


def markdown(rows: list[Throughput]) -> str:
    lines = [
        "## localnet over HTTP vs LiteSVM in-process",
        "",
        f"{TRANSACTIONS} pre-signed transfers and {READS} account reads, {CONCURRENCY} concurrent HTTP clients,",
        "server in its own process, measured in the same run. Goal for transactions: ratio ≥ 0.3.",
        "",
        "| work | in-process /s | HTTP /s | ratio |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.what} | {r.direct_per_s:,.0f} | {r.http_per_s:,.0f} | {r.ratio:.2f} |")
    return "\n".join(lines) + "\n"
