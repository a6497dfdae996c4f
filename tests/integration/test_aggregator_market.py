"""The aggregator over HTTP with localnet and scripted providers: jobs verified, settled, closed."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import JobAccount, ProviderAccount, provider_address
from marketplace.verification import is_sampled
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import ScriptedProvider, embed

pytestmark = pytest.mark.slow


@asynccontextmanager
async def providers_running(market, behaviours):
    providers = []
    for i, behaviour in enumerate(behaviours):
        provider = ScriptedProvider(market.aggregator_url, market.chain, market.address, behaviour)
        await provider.join(3 * SOL, f"http://127.0.0.1:{7100 + i}")
        providers.append(provider)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in providers]
    try:
        yield providers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_honest_market_runs_a_job_to_close(tmp_path):
    async with running_market(tmp_path) as market, providers_running(market, ["honest"] * 3) as providers:
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        before = await market.chain.balance(client.pubkey())
        inputs = prompt_inputs(6)
        job = await market.submit_job(client, inputs, {"max_new_tokens": 5})
        report = await market.wait_for(job)
        for shard, item in zip(report["shards"], inputs):
            assert shard["output"]["token_ids"] == expected_tokens(item["prompt"], 5)
            assert shard["verification"] in ("unsampled", "checked")
        assert report["faults"] == []
        assert {s["verdict"] for s in report["settlements"]} == {"pay"}
        assert await market.chain.fetch(JobAccount, Pubkey.from_string(job)) is None
        seed = bytes.fromhex(report["seed"])
        replicas = sum(len(s["providers"]) == 2 for s in report["shards"])
        assert replicas == min(sum(is_sampled(seed, job, i, 5_000) for i in range(6)), 3)  # budget caps replicas
        # The client paid price × executions run + fee, and got the rest back at close.
        executions = 6 + replicas
        price = 100_000
        spent = before - await market.chain.balance(client.pubkey())
        assert spent == executions * price + executions * price * 200 // 10_000 + 5_000
        assert sum(p.tasks_done for p in providers) >= executions


async def test_a_job_report_long_polls_until_the_job_moves_on(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, long_poll=10.0) as market:
        provider = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await provider.join(3 * SOL, "http://127.0.0.1:7100")  # registered, not yet working
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        job = await market.submit_job(client, prompt_inputs(2), {"max_new_tokens": 3})
        _, first = await market.request("GET", f"/v1/jobs/{job}")
        started = time.monotonic()
        _, same = await market.request("GET", f"/v1/jobs/{job}?revision={first['revision']}&wait=0.5")
        assert same["revision"] == first["revision"] and time.monotonic() - started >= 0.45  # nothing moved: waited it out
        waiting = asyncio.create_task(market.request("GET", f"/v1/jobs/{job}?revision={first['revision']}&wait=10"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        started, stop = time.monotonic(), asyncio.Event()
        working = asyncio.create_task(provider.run(stop))
        _, moved = await waiting
        assert time.monotonic() - started < 5  # woken by the job's progress, not by the 10 s wait running out
        assert moved["revision"] != first["revision"]
        assert any(shard["status"] == "verified" for shard in moved["shards"])
        closed = await market.wait_for(job)
        stop.set()
        await working
        assert closed["settlements"]
        started = time.monotonic()
        _, still = await market.request("GET", f"/v1/jobs/{job}?revision={closed['revision']}&wait=0.5")
        assert still["revision"] == closed["revision"] and time.monotonic() - started >= 0.45  # settled state: nothing new


async def test_liar_is_caught_and_slashed(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["honest", "honest", "liar"]) as providers:
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        inputs = prompt_inputs(4)
        job = await market.submit_job(client, inputs, {"max_new_tokens": 4})
        report = await market.wait_for(job)
        liar = str(providers[2].owner)
        for shard, item in zip(report["shards"], inputs):
            assert shard["output"]["token_ids"] == expected_tokens(item["prompt"], 4)
        verdicts = {s["provider"]: s["verdict"] for s in report["settlements"]}
        assert verdicts[liar] == "slash"
        assert all(v == "pay" for owner, v in verdicts.items() if owner != liar)
        assert any(f["provider"] == liar for f in report["faults"])
        account = await market.chain.fetch(ProviderAccount, provider_address(market.address, providers[2].owner)[0])
        assert account.stake < 3 * SOL and account.shards_slashed > 0


async def test_embedding_job_is_recomputed_by_replicas(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, providers_running(market, ["honest"] * 3):
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        inputs = [{"text": f"sentence {i}"} for i in range(4)]
        job = await market.submit_job(client, inputs, kind="embed")
        report = await market.wait_for(job)
        assert [s["output"]["vector"] for s in report["shards"]] == [embed(i["text"]) for i in inputs]
        assert {s["verification"] for s in report["shards"]} == {"replica_agreed"}
        assert {s["verdict"] for s in report["settlements"]} == {"pay"}
