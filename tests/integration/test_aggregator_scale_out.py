"""Two aggregator processes on one PostgreSQL database serve one market: no task handed out twice, nothing settled twice."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain import JobAccount, ProgramError
from marketplace.chain import instructions as ix
from tests.integration.market import SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import ScriptedProvider
from tests.storage.conftest import POSTGRES, postgres_schema

pytestmark = pytest.mark.slow
PRICE = 100_000


async def test_two_aggregators_share_one_postgres(tmp_path):
    async with postgres_schema("scale") as (url, schema):
        async with running_market(tmp_path, sampling_rate_bps=3_000, with_aggregator=False) as market:
            aggregators = [AggregatorProcess(market.net.url, market.config.keypair, str(market.address), url, schema,
                                             ws=market.net.ws_url, log=tmp_path / f"aggregator{i}.log") for i in range(2)]
            for agg in aggregators:
                await agg.start()
            try:
                providers = []
                for i in range(4):
                    provider = ScriptedProvider(aggregators[i % 2].url, market.chain, market.address)
                    await provider.join(3 * SOL, f"http://127.0.0.1:{7200 + i}")
                    providers.append(provider)
                before = {p.owner: (await market.chain.balance(p.owner), p.fees_paid) for p in providers}
                stop = asyncio.Event()
                running = [asyncio.create_task(p.run(stop)) for p in providers]
                client = Keypair()
                await market.chain.airdrop(client.pubkey(), 20 * SOL)
                jobs = {}
                for n in range(6):
                    market.aggregator_url = aggregators[n % 2].url
                    inputs = prompt_inputs(6, salt=f"scale {n}")
                    jobs[await market.submit_job(client, inputs, {"max_new_tokens": 3})] = (inputs, aggregators[(n + 1) % 2].url)
                reports = []
                for job, (inputs, other_url) in jobs.items():
                    market.aggregator_url = other_url  # either process answers for any job
                    report = await market.wait_for(job, timeout=90)
                    assert [s["output"]["token_ids"] for s in report["shards"]] == [expected_tokens(i["prompt"], 3) for i in inputs]
                    assert await market.chain.fetch(JobAccount, Pubkey.from_string(job)) is None
                    reports.append(report)
                stop.set()
                await asyncio.gather(*running)
            finally:
                for agg in aggregators:
                    await agg.stop()
            delivered = [p.delivered for p in providers]
            for i, mine in enumerate(delivered):
                for theirs in delivered[i + 1:]:
                    assert not mine & theirs, "a task was handed to two providers"
            earned = {str(p.owner): 0 for p in providers}
            for report in reports:
                for s in report["settlements"]:
                    earned[s["provider"]] += PRICE * len(s["accepted"])
            for p in providers:
                for job in jobs:
                    with contextlib.suppress(ProgramError):  # it had no assignment in this job
                        await p.send(ix.close_assignment(p.owner, market.address, Pubkey.from_string(job)))
                balance, fees = before[p.owner]
                assert await market.chain.balance(p.owner) - balance == earned[str(p.owner)] - (p.fees_paid - fees)
            database = await asyncpg.connect(POSTGRES)
            try:
                tasks = await database.fetchval(f'SELECT count(*) FROM "{schema}".tasks')
                duplicate_settlements = await database.fetchval(
                    f'SELECT count(*) FROM (SELECT job, provider_owner FROM "{schema}".settlements GROUP BY 1, 2 HAVING count(*) > 1) d')
            finally:
                await database.close()
            assert tasks > 0 and duplicate_settlements == 0
