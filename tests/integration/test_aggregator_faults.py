"""Lazy, digest-only and copying providers, the cache, and the sampling statistics."""

from __future__ import annotations

import asyncio

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import JobAccount, ProviderAccount, provider_address
from marketplace.chain import instructions as ix

from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import ScriptedProvider
from tests.integration.test_aggregator_market import providers_running

pytestmark = pytest.mark.slow


async def funded_client(market) -> Keypair:
    client = Keypair()
    await market.chain.airdrop(client.pubkey(), 10 * SOL)
    return client


async def test_lazy_provider_times_out_and_its_shards_are_rerun(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, claim_timeout=2) as market, \
            providers_running(market, ["honest", "honest", "lazy"]) as providers:
        inputs = prompt_inputs(6)
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 3})
        report = await market.wait_for(job, timeout=90)
        lazy = str(providers[2].owner)
        assert all(s["output"]["token_ids"] == expected_tokens(i["prompt"], 3) for s, i in zip(report["shards"], inputs))
        assert any(f["provider"] == lazy and f["reason"] == "expired" for f in report["faults"])
        assert lazy not in {s["provider"] for s in report["settlements"]}  # it committed nothing on chain
        assert all(s["verdict"] == "pay" for s in report["settlements"]), "\n".join(map(str, (report["settlements"], report["faults"], *[s["runs"] for s in report["shards"]])))
        _, metrics = await market.request("GET", "/v1/jobs/" + job)
        assert metrics["status"] == "closed"


async def test_digest_without_output_is_rejected_not_slashed(tmp_path):
    """No referee judged an output never shown, so there is no evidence to slash with: unpaid, and rerun elsewhere."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, \
            providers_running(market, ["honest", "honest", "digest_only"]) as providers:
        inputs = prompt_inputs(6)
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 3})
        report = await market.wait_for(job, timeout=90)
        cheat = str(providers[2].owner)
        verdicts = {s["provider"]: s["verdict"] for s in report["settlements"]}
        assert verdicts.get(cheat) == "reject"
        assert all(s["output"]["token_ids"] == expected_tokens(i["prompt"], 3) for s, i in zip(report["shards"], inputs))
        account = await market.chain.fetch(ProviderAccount, provider_address(market.address, providers[2].owner)[0])
        assert (account.shards_slashed, account.locked_stake) == (0, 0)


async def test_copier_is_rejected(tmp_path):
    """A copied digest has no output of its own behind it: unpaid, not slashed (no referee judged it)."""
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["honest", "honest", "copier"]) as providers:
        providers[2].source = providers[0]
        inputs = prompt_inputs(4)
        job = await market.submit_job(await funded_client(market), inputs, {"max_new_tokens": 3})
        report = await market.wait_for(job, timeout=90)
        verdicts = {s["provider"]: s["verdict"] for s in report["settlements"]}
        assert verdicts.get(str(providers[2].owner)) == "reject"


async def test_repeat_is_served_from_cache(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["honest", "honest"]) as providers:
        client = await funded_client(market)
        inputs = prompt_inputs(3)
        first = await market.submit_job(client, inputs, {"max_new_tokens": 3})
        await market.wait_for(first, timeout=60)
        done = sum(p.tasks_done for p in providers)
        before = await market.chain.balance(client.pubkey())
        second = await market.submit_job(client, inputs, {"max_new_tokens": 3})
        report = await market.wait_for(second, timeout=60)
        assert report["cache_hits"] == 3 and {s["verification"] for s in report["shards"]} == {"cache"}
        assert sum(p.tasks_done for p in providers) == done  # no provider work
        cache_fee = 3 * (100_000 * 2_500 // 10_000)  # the market's cache fee, 25% of the price, per shard
        assert before - await market.chain.balance(client.pubkey()) == cache_fee + 5_000  # the rest came back at close


async def test_liars_are_caught_at_the_sampling_rate(tmp_path):
    """A lie is caught exactly when its shard had a second run; shards get one at the sampling rate."""
    async with running_market(tmp_path, sampling_rate_bps=5_000) as market, \
            providers_running(market, ["honest", "honest", "liar"]) as providers:
        client = await funded_client(market)
        liar = str(providers[2].owner)
        lying_runs = checked = caught = shards = replicated = 0
        for round_ in range(8):
            job = await market.submit_job(client, prompt_inputs(4, salt=f"round {round_}"), {"max_new_tokens": 2})
            report = await market.wait_for(job, timeout=60)
            for shard in report["shards"]:
                runs = [r for r in shard["runs"] if r["role"] != "referee"]
                shards += 1
                replicated += len(runs) > 1
                for run in runs:
                    if run["provider"] == liar:
                        lying_runs += 1
                        checked += len(runs) > 1
                        caught += bool(run["fault"])
        print(f"\nshards {shards}, replicated {replicated} ({replicated / shards:.0%}, rate 50% capped at 2 of 4 by the budget); "
              f"liar's runs {lying_runs}, checked {checked}, caught {caught}")
        assert lying_runs > 0 and caught == checked  # every checked lie is caught, no unchecked one is
        assert 0.25 <= replicated / shards <= 0.5


async def test_cancelled_job_stops_cleanly(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market:
        provider = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await provider.join(3 * SOL, "http://127.0.0.1:7400")  # registered, but not asking for work
        client = await funded_client(market)
        job = await market.submit_job(client, prompt_inputs(3, salt="cancel"), {"max_new_tokens": 2})
        before = await market.chain.balance(client.pubkey())
        sent = await market.chain.send([ix.cancel_job(client.pubkey(), Pubkey.from_string(job))], [client])
        report = await market.wait_for(job, status="cancelled", timeout=30)
        assert all(run["status"] == "cancelled" for s in report["shards"] for run in s["runs"])
        assert await market.chain.balance(client.pubkey()) > before - sent.fee  # escrow and rent came back
        assert (await provider.work_once()) == 0  # nothing left to hand out


async def test_a_dispute_no_referee_can_take_is_left_unpaid_at_the_deadline(tmp_path):
    # Two owners: every replica check of a liar's shard, and every false accusation by it, needs a
    # third owner as referee. There is none, so those shards stay undecided until the deadline.
    async with running_market(tmp_path, sampling_rate_bps=10_000, job_lifetime=8) as market, \
            providers_running(market, ["honest", "liar"]) as providers:
        client = await funded_client(market)
        job = await market.submit_job(client, prompt_inputs(4), {"max_new_tokens": 3})
        report = await market.wait_for(job, timeout=60)  # closed, past its deadline
        disputed = {s["index"] for s in report["shards"] if s["status"] == "disputed"}
        assert disputed, [s["runs"] for s in report["shards"]]
        assert all(s["verdict"] != "slash" for s in report["settlements"])  # nobody was proven wrong
        assert all(not disputed & set(s["accepted"]) for s in report["settlements"])  # nor paid for a dispute
        assert await market.chain.fetch(JobAccount, Pubkey.from_string(job)) is None  # escrow and rent went back
        for provider in providers:  # no collateral is left locked in the job
            account = await market.chain.fetch(ProviderAccount, provider_address(market.address, provider.owner)[0])
            assert account.free_stake == account.stake


async def test_a_round_committed_by_a_provider_never_given_work_is_rejected(tmp_path):
    # Any staked provider can commit results for any open job; one that was never given work
    # there would otherwise hold the job open (and the client's escrow) for good. Nobody judged its
    # work, so there is no evidence to slash it with: it is rejected (unpaid, its collateral released).
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market:
        honest = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await honest.join(3 * SOL, "http://127.0.0.1:7100")
        griefer = Keypair()  # staked on chain, never registered with the aggregator
        await market.chain.airdrop(griefer.pubkey(), 4 * SOL)
        await market.chain.send([ix.register_provider(griefer.pubkey(), market.address, "http://x", 3 * SOL, 4)], [griefer])
        client = await funded_client(market)
        job = await market.submit_job(client, prompt_inputs(2), {"max_new_tokens": 3})
        await market.chain.send([ix.submit_results(griefer.pubkey(), market.address, Pubkey.from_string(job), [0], b"\x07" * 32)],
                                [griefer])
        stop = asyncio.Event()
        working = asyncio.create_task(honest.run(stop))
        try:
            report = await market.wait_for(job, timeout=60)
        finally:
            stop.set()
            await working
        verdicts = {s["provider"]: s["verdict"] for s in report["settlements"]}
        assert verdicts == {str(honest.owner): "pay", str(griefer.pubkey()): "reject"}
        assert await market.chain.fetch(JobAccount, Pubkey.from_string(job)) is None
        account = await market.chain.fetch(ProviderAccount, provider_address(market.address, griefer.pubkey())[0])
        assert (account.shards_slashed, account.stake, account.locked_stake) == (0, 3 * SOL, 0)
