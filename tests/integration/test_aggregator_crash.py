"""kill -9 of the aggregator, again and again while it settles: nothing paid twice, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain import JobAccount, ProgramError
from marketplace.chain import instructions as ix
from tests.integration.market import SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.test_aggregator_market import providers_running

pytestmark = pytest.mark.slow
PRICE = 100_000


async def test_kill_9_during_settlement_pays_once_and_loses_nothing(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=5_000, with_aggregator=False) as market:
        agg = AggregatorProcess(market.net.url, market.config.keypair, str(market.address), market.config.db_url,
                                ws=market.net.ws_url, log=tmp_path / "aggregator.log")
        await agg.start()
        market.aggregator_url = agg.url
        try:
            await _run(market, agg)
        finally:
            agg.kill()


async def _run(market, agg) -> None:
    """Jobs through a killable aggregator; the caller kills it for good at the end, even on failure."""
    async with providers_running(market, ["honest"] * 3) as providers:
        owners = {str(p.owner): p for p in providers}
        before = {o: await market.chain.balance(p.owner) for o, p in owners.items()}
        fees_before = {o: p.fees_paid for o, p in owners.items()}
        treasury_before = await market.chain.balance(market.treasury)
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 20 * SOL)
        jobs = {}
        for n in range(6):
            inputs = prompt_inputs(8, salt=f"crash {n}")
            jobs[await market.submit_job(client, inputs, {"max_new_tokens": 3})] = inputs
        rng, kills, statuses = random.Random(7), 0, []
        async with asyncio.timeout(60):
            while True:
                reports = [(await market.request("GET", f"/v1/jobs/{job}"))[1] for job in jobs]
                statuses.append([r["status"] for r in reports])
                if all(r["status"] == "closed" for r in reports):
                    break
                mid_settlement = "settling" in statuses[-1] or len(set(statuses[-1])) > 1
                if kills < 3 and mid_settlement:
                    await asyncio.sleep(rng.uniform(0.0, 0.2))
                    agg.kill()
                    kills += 1
                    await agg.start()
                else:
                    statuses.pop()
                    await asyncio.sleep(0.05)
        await agg.stop()
        # Every shard delivered, every job closed on chain.
        for report, inputs in zip(reports, jobs.values()):
            assert [s["output"]["token_ids"] for s in report["shards"]] == [expected_tokens(i["prompt"], 3) for i in inputs]
            assert await market.chain.fetch(JobAccount, Pubkey.from_string(report["job"])) is None
        # Each provider earned exactly price × the shards settled to it, once; the treasury its fee.
        earned = {o: 0 for o in owners}
        for report in reports:
            for s in report["settlements"]:
                assert s["verdict"] == "pay"
                earned[s["provider"]] += PRICE * len(s["accepted"])
        for owner, provider in owners.items():
            for job in jobs:  # assignments return their rent once the job is closed
                with contextlib.suppress(ProgramError):  # it had no assignment in this job
                    await provider.send(ix.close_assignment(provider.owner, market.address, Pubkey.from_string(job)))
            assert await market.chain.balance(provider.owner) - before[owner] == earned[owner] - (provider.fees_paid - fees_before[owner])
        total_paid = sum(earned.values())
        assert await market.chain.balance(market.treasury) - treasury_before == sum(
            PRICE * len(s["accepted"]) * 200 // 10_000 for r in reports for s in r["settlements"])
        print(f"\n{kills} kills; job statuses seen between kills: {statuses}; {total_paid:,} lamports paid, each shard once")
        assert kills >= 2, "the aggregator was never killed while jobs were settling"
