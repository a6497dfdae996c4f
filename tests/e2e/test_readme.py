"""The README's steps, run as written (each part its own process, keypairs from `tessera airdrop`), with a
job in flight while the aggregator and a provider are killed with -9 and restarted."""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp
import pytest

from localnet.process import LocalnetProcess
from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain.client import TesseraChain
from marketplace.keys import load_keypair
from provider.process import ProviderProcess
from tests.cli import TESSERA

pytestmark = pytest.mark.slow
CLAIM_TIMEOUT = 10  # seconds; the bound below is this plus the recovery goal
MODEL = "smollm2-135m-instruct"  # the README's model


async def tessera(cwd, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(TESSERA, *args, cwd=cwd,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def chain_balance(rpc: str, keypair) -> int:
    async with TesseraChain(rpc) as chain:
        return await chain.balance(load_keypair(keypair).pubkey())


async def test_the_readme_market_settles_and_recovers_from_kill_9(tmp_path, smollm2):
    async with LocalnetProcess(log=tmp_path / "localnet.log") as net:
        rpc = ["--rpc", net.url]
        for name in ("verifier", "provider-1", "provider-2", "agent"):
            await tessera(tmp_path, "airdrop", "100", "--keypair", f"{name}.json", *rpc)
        # `market init --keypair verifier.json`: one key is authority, verifier and treasury.
        created = await tessera(tmp_path, "market", "init", "--keypair", "verifier.json", *rpc)
        market = re.search(r"market (\w+) created", created).group(1)
        database = f"sqlite+aiosqlite:///{tmp_path / 'tessera-aggregator.sqlite3'}"

        def aggregator(port=None):
            return AggregatorProcess(net.url, tmp_path / "verifier.json", market, database, port=port,
                                     claim_timeout=CLAIM_TIMEOUT, log=tmp_path / "aggregator.log")

        def node(name, port=None):
            return ProviderProcess(tmp_path / f"{name}.json", net.url, service.url, [MODEL], tmp_path / f"{name}.sqlite3",
                                   capacity=2, threads=1, log=tmp_path / f"{name}.log", port=port)

        digest = re.search(r"model digest (\w+)", await tessera(tmp_path, "provider", "digest", MODEL)).group(1)
        assert digest == smollm2.hex
        service = await aggregator().start()
        nodes = []
        try:
            for name in ("provider-1", "provider-2"):
                await tessera(tmp_path, "provider", "register", "--keypair", f"{name}.json", "--market", market, "--stake", "2", *rpc)
                nodes.append(await node(name).start())
            prompts = [f"Tell me one fact about the number {i}." for i in range(12)]
            generate = asyncio.create_task(tessera(
                tmp_path, "generate", *prompts, "--model", digest, "--max-new-tokens", "24", "--keypair", "agent.json",
                "--aggregator", service.url, "--json", *rpc))
            async with aiohttp.ClientSession() as session:
                async with asyncio.timeout(30):
                    while True:  # a job in flight
                        async with session.get(service.url + "/v1/dashboard") as response:
                            if (await response.json())["jobs"]:
                                break
                        await asyncio.sleep(0.05)
            service.kill()
            nodes[0].kill()
            await asyncio.sleep(1)
            restarted = time.monotonic()
            service = await aggregator(service.port).start()
            nodes[0] = await node("provider-1", nodes[0].port).start()
            answer = json.loads(await asyncio.wait_for(generate, CLAIM_TIMEOUT + 60))
            recovered = time.monotonic() - restarted
            chat = json.loads(await tessera(tmp_path, "chat", "What is the capital of France?", "--model", digest,
                                            "--keypair", "agent.json", "--aggregator", service.url, "--json", *rpc))
            # Paying per request from a channel: the aggregator's default serves it at once, in an epoch paid later.
            agent_where = ["--keypair", "agent.json", "--aggregator", service.url, *rpc]
            await tessera(tmp_path, "channel", "open", "1", "--authorizer", "session.json", *agent_where)
            wallet = await chain_balance(net.url, tmp_path / "agent.json")
            by_voucher = json.loads(await tessera(tmp_path, "chat", "Hi", "--model", digest, "--channel", "session.json",
                                                  "--max-new-tokens", "8", "--json", *agent_where))
            channel = json.loads(await tessera(tmp_path, "channel", "status", "--authorizer", "session.json", "--json",
                                               *agent_where))
            assert await chain_balance(net.url, tmp_path / "agent.json") == wallet  # a voucher, no transaction
        finally:
            for process in (*nodes, service):
                await process.stop()
        assert all(o["token_ids"] for o in answer["outputs"]) and len(answer["outputs"]) == 12, answer
        assert "Paris" in chat["message"]["content"] and chat["receipt"]["status"] == "closed"
        assert by_voucher["message"]["content"] and by_voucher["receipt"]["voucher"] > 0
        assert "claim_channel" not in by_voucher["receipt"]["signatures"]  # not claimed before it was served
        assert [(v["job"], v["status"]) for v in channel["vouchers"]] == [(by_voucher["job"], "in_epoch")]
        assert channel["owed"] > 0 and channel["claimed"] == 0
        assert answer["receipt"]["status"] == "closed" and answer["receipt"]["signatures"]["close_job"]
        assert answer["error"] is None
        assert recovered < CLAIM_TIMEOUT + 15, recovered
        for name in ("provider-1", "provider-2"):  # nothing stays locked
            status = json.loads(await tessera(tmp_path, "provider", "status", "--keypair", f"{name}.json", "--market", market,
                                              "--json", *rpc))
            assert status["locked"] == 0, status
        print(f"recovered from kill -9 of the aggregator and a provider in {recovered:.1f} s")
