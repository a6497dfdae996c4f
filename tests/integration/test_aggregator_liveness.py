"""No provider can stall the market: poisoned rows stay one job's problem, silent or leaving providers'
work moves on, and work nobody can run fails fast instead of waiting for the deadline."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from sqlalchemy import update

from marketplace.aggregator import models as m
from marketplace.aggregator.db import create_engine, sessions
from marketplace.chain import JobAccount
from marketplace.chain import instructions as ix
from marketplace.messages import sign_message
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import MODEL_DIGEST, Refused, ScriptedProvider
from tests.integration.test_aggregator_faults import funded_client
from tests.integration.test_aggregator_market import providers_running

pytestmark = pytest.mark.slow


async def test_a_non_hex_digest_is_refused_at_intake(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["lazy"]) as [lazy]:
        job = await market.submit_job(await funded_client(market), prompt_inputs(1), {"max_new_tokens": 2})
        async with asyncio.timeout(20):
            while not lazy.delivered:
                await asyncio.sleep(0.05)
        [task] = lazy.delivered
        bad = {"task": task, "digest": "g" * 64, "output": {"token_ids": [1, 2], "text": ""}}
        with pytest.raises(Refused) as refused:
            await lazy.post(f"/v1/jobs/{job}/results", sign_message(lazy.keypair, "results", {"results": [bad]}, job=job))
        assert refused.value.status == 400 and "64 lowercase hex" in str(refused.value)


async def test_one_jobs_broken_data_does_not_stop_the_others(tmp_path):
    """A row no pass can handle makes its own job back off (visible in the report and metrics); others settle."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"] * 2):
        poisoned = await market.submit_job(await funded_client(market), prompt_inputs(2, "p"), {"max_new_tokens": 2})
        engine = create_engine(market.config.db_url)
        try:
            async with sessions(engine)() as session:  # as if a bug had stored a value that cannot be read back
                await session.execute(update(m.Quote).where(m.Quote.job == poisoned).values(seed="zz" * 32))
                await session.commit()
        finally:
            await engine.dispose()
        healthy = await market.submit_job(await funded_client(market), prompt_inputs(3, "h"), {"max_new_tokens": 2})
        report = await market.wait_for(healthy, timeout=60)
        assert [s["status"] for s in report["shards"]] == ["verified"] * 3
        async with asyncio.timeout(30):
            while (await market.request("GET", f"/v1/jobs/{poisoned}"))[1]["error"] is None:
                await asyncio.sleep(0.1)
        _, poisoned_report = await market.request("GET", f"/v1/jobs/{poisoned}")
        # It never closes; a provider's round settled (seed withheld) before the reveal failed leaves it settling.
        assert "ValueError" in poisoned_report["error"] and poisoned_report["status"] in ("open", "settling")
        _, dashboard = await market.request("GET", "/v1/dashboard")
        assert any(j["job"] == poisoned and j["error"] for j in dashboard["jobs"])
        async with aiohttp.ClientSession() as session, session.get(market.aggregator_url + "/metrics") as response:
            assert "tessera_jobs_failing 1" in await response.text()


async def test_work_placed_on_a_silent_provider_moves_within_the_provider_timeout(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, provider_timeout=2, claim_timeout=300) as market, \
            providers_running(market, ["honest", "honest"]):
        silent = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await silent.join(3 * SOL, "http://127.0.0.1:7199")  # registered and live, then never heard from again
        inputs = prompt_inputs(9)
        started = time.monotonic()
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 2})
        report = await market.wait_for(job, timeout=120)
        assert all(s["output"]["token_ids"] == expected_tokens(i["prompt"], 2) for s, i in zip(report["shards"], inputs))
        assert str(silent.owner) not in {p for s in report["shards"] for p in s["providers"]}
        assert time.monotonic() - started < 120  # the claim timeout is 300 s: the work moved because it fell silent


async def test_a_leaving_provider_hands_its_queued_work_over_at_once(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, provider_timeout=60) as market, \
            providers_running(market, ["honest"]):
        leaving = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await leaving.join(3 * SOL, "http://127.0.0.1:7198")
        job = await market.submit_job(await funded_client(market), prompt_inputs(6), {"max_new_tokens": 2})
        answer = await leaving.post("/v1/providers/leave", sign_message(leaving.keypair, "leave", {}))
        assert answer["released"] >= 1
        report = await market.wait_for(job, timeout=30)
        assert str(leaving.owner) not in {p for s in report["shards"] for p in s["providers"]}
        # After leaving it gets no new work until it registers again.
        assert (await leaving.post("/v1/work", sign_message(leaving.keypair, "claim", {"wait": 0})))["tasks"] == []


async def test_work_every_provider_declines_fails_fast_and_the_client_takes_its_escrow_back(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["decliner"] * 2):
        client = await funded_client(market)
        before = await market.chain.balance(client.pubkey())
        started = time.monotonic()
        job = await market.submit_job(client, prompt_inputs(2), {"max_new_tokens": 2})
        report = await market.wait_for(job, status="failed", timeout=120)
        # Long before its deadline (600 s), which is when it used to end.
        assert time.monotonic() - started < 120 and {s["status"] for s in report["shards"]} == {"failed"}
        await market.chain.send([ix.close_job(Pubkey.from_string(job), client.pubkey())], [client])
        assert await market.chain.fetch(JobAccount, Pubkey.from_string(job)) is None
        assert before - await market.chain.balance(client.pubkey()) == 2 * 5_000  # two signatures' fees, nothing more
        await market.wait_for(job, status="cancelled", timeout=30)  # the aggregator sees the job gone


async def test_a_quote_for_a_model_nobody_serves_is_refused(tmp_path):
    async with running_market(tmp_path) as market, providers_running(market, ["honest"]):
        status, answer = await market.request("POST", "/v1/quotes", {"model_digest": "ab" * 32, "shard_count": 1, "kind": "generate"})
        assert status == 503 and answer["error"]["code"] == "no_provider"
        status, _ = await market.request("POST", "/v1/quotes", {"model_digest": MODEL_DIGEST.hex(), "shard_count": 1})
        assert status == 200


async def test_a_hundred_concurrent_agents_all_create_their_jobs(tmp_path):
    """Quotes hand out random job ids: concurrent agents never race for the same one."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["lazy"]):
        agents = [Keypair() for _ in range(100)]
        for start in range(0, len(agents), 20):  # funding is not what is under test: in modest batches
            await asyncio.gather(*(market.chain.airdrop(a.pubkey(), SOL) for a in agents[start:start + 20]))
        jobs = await asyncio.gather(*(market.submit_job(a, prompt_inputs(1, str(i)), {"max_new_tokens": 1})
                                      for i, a in enumerate(agents)))
        assert len(set(jobs)) == 100
        accounts = await asyncio.gather(*(market.chain.fetch(JobAccount, Pubkey.from_string(j)) for j in jobs))
        assert all(a is not None for a in accounts)


async def test_a_market_of_one_owner_takes_sampled_jobs_and_runs_them_unchecked(tmp_path):
    """Every shard is drawn for a check, but no second owner exists to check it: the job is taken (not refused after
    its client paid the escrow), each shard runs once, and the report says none was checked."""
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, providers_running(market, ["honest"]):
        inputs = prompt_inputs(3)
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 2})
        report = await market.wait_for(job, timeout=30)
        assert all(s["output"]["token_ids"] == expected_tokens(i["prompt"], 2) for s, i in zip(report["shards"], inputs))
        assert {s["verification"] for s in report["shards"]} == {"unsampled"}
        assert [s["verdict"] for s in report["settlements"]] == ["pay"]


async def test_a_shard_declined_by_one_of_two_providers_runs_on_the_other_unchecked(tmp_path):
    """With every shard sampled and one of two providers unable to run any, nothing fails: the other provider runs
    each shard once (its own replica dropped, as no second owner can check it)."""
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["decliner", "honest"]) as [_, honest]:
        inputs = prompt_inputs(4)
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 2})
        report = await market.wait_for(job, timeout=30)
        assert all(s["output"]["token_ids"] == expected_tokens(i["prompt"], 2) for s, i in zip(report["shards"], inputs))
        assert {s["verification"] for s in report["shards"]} == {"unsampled"}
        assert {p for s in report["shards"] for p in s["providers"]} == {str(honest.owner)}
