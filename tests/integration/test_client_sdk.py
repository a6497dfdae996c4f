"""The client SDK against the aggregator over HTTP and localnet: streaming, receipts, budgets, timeouts, refunds."""

from __future__ import annotations

import asyncio
import time

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client import BudgetExceeded, ChainRefused, InvalidRequest, JobFailed, JobTimeout, TesseraClient
from marketplace.chain import JobAccount, job_address
from marketplace.chain import instructions as ix
from marketplace.digests import input_digest
from marketplace.merkle import merkle_root
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, running_market
from tests.integration.scripted import MODEL_DIGEST
from tests.integration.test_aggregator_market import providers_running


async def funded_client(market, sol: int = 10) -> TesseraClient:
    agent = Keypair()
    await market.chain.airdrop(agent.pubkey(), sol * SOL)
    return TesseraClient(market.aggregator_url, market.net.url, agent, timeout=60)


async def once_the_chain_allows(call, refusal: str, timeout: float = 30.0):
    """`call()` again while the program refuses it with `refusal` (a time on the chain's clock not yet reached)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await call()
            except ChainRefused as exc:
                if refusal not in str(exc):
                    raise
            await asyncio.sleep(0.5)


async def test_outputs_stream_in_and_the_receipt_adds_up(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=5_000) as market, providers_running(market, ["honest"] * 3):
        async with await funded_client(market) as tessera:
            before = await market.chain.balance(tessera.keypair.pubkey())
            prompts = [f"stream {i}" for i in range(5)]
            job = await tessera.submit("generate", [{"prompt": p} for p in prompts], MODEL_DIGEST, {"max_new_tokens": 4})
            streamed = [shard async for shard in tessera.stream(job)]
            result = await tessera.wait(job)
        assert sorted(s.index for s in streamed) == list(range(5))
        assert [s.output["token_ids"] for s in result.shards] == [expected_tokens(p, 4) for p in prompts]
        receipt = result.receipt
        assert set(receipt.signatures) == {"create_job", "close_job"} and receipt.status == "closed"
        assert before - await market.chain.balance(tessera.keypair.pubkey()) == receipt.paid  # every lamport explained
        assert receipt.seed is not None and sum(receipt.verification.values()) == 5


async def test_budget_caps_and_bad_requests_move_nothing(tmp_path):
    async with running_market(tmp_path) as market, providers_running(market, ["lazy"]):
        async with await funded_client(market) as tessera:
            before = await market.chain.balance(tessera.keypair.pubkey())
            with pytest.raises(BudgetExceeded) as caught:
                await tessera.generate(["hi"], model=MODEL_DIGEST, max_lamports=1_000)
            assert caught.value.escrow > 1_000 and caught.value.code == "budget_exceeded"
            with pytest.raises(InvalidRequest):
                await tessera.generate([], model=MODEL_DIGEST)
            with pytest.raises(InvalidRequest):
                await tessera.embed("x", model="not a digest")
            assert await market.chain.balance(tessera.keypair.pubkey()) == before


async def test_a_job_nobody_serves_times_out_and_is_closed_at_its_deadline(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, job_lifetime=3) as market, providers_running(market, ["lazy"]):
        async with await funded_client(market) as tessera:
            before = await market.chain.balance(tessera.keypair.pubkey())
            job = await tessera.submit("generate", [{"prompt": "nobody answers"}], MODEL_DIGEST, {"max_new_tokens": 2})
            with pytest.raises(JobTimeout) as caught:
                await tessera.wait(job, timeout=1)
            assert caught.value.job == job.job and caught.value.code == "job_timeout"
            with pytest.raises(ChainRefused, match="DeadlineNotPassed"):
                await tessera.refund(job)
            report = await market.wait_for(job.job, "closed", timeout=30)  # the market closes it past the deadline
            assert report["shards"][0]["status"] == "running"
            # Escrow and rent came back at close: the client paid its transaction fee only.
            assert before - await market.chain.balance(tessera.keypair.pubkey()) == 5_000
            with pytest.raises(InvalidRequest, match="no job account"):
                await tessera.refund(job.job)


async def test_refund_after_the_deadline_when_no_aggregator_took_the_job(tmp_path):
    """A job created on chain whose inputs never reached an aggregator: the client's refund is its way out."""
    async with running_market(tmp_path, job_lifetime=2) as market, providers_running(market, ["lazy"]):
        async with await funded_client(market) as tessera:
            quote = await tessera.quote("generate", 2, MODEL_DIGEST)
            address = job_address(market.address, quote["job_id"])[0]
            await tessera.chain.send([ix.create_job(
                tessera.keypair.pubkey(), market.address, quote["job_id"], model_digest=MODEL_DIGEST,
                input_root=merkle_root([input_digest({"prompt": "a"}), input_digest({"prompt": "b"})]),
                seed_commitment=bytes.fromhex(quote["seed_commitment"]), price_per_shard=quote["price_per_shard"],
                deadline=quote["deadline"], shard_count=2)], [tessera.keypair])
            receipt = await once_the_chain_allows(lambda: tessera.refund(str(address)), "DeadlineNotPassed")
            assert receipt.refunded == quote["escrow"] and set(receipt.signatures) == {"refund"}
            assert (await market.chain.fetch(JobAccount, address)).escrow == 0


async def test_a_job_no_provider_can_run_fails_fast_with_what_it_has_and_the_escrow_back(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["decliner"] * 2):
        async with await funded_client(market) as tessera:
            before = await market.chain.balance(tessera.keypair.pubkey())
            with pytest.raises(JobFailed) as failed:
                await tessera.generate(["too long for every model"], model=MODEL_DIGEST, max_new_tokens=2, timeout=30)
            result = failed.value.result
            assert failed.value.status == "failed" and result.outputs == [None] and "shards [0]" in str(failed.value)
            assert set(result.receipt.signatures) == {"create_job", "close_job"}
            assert await market.chain.fetch(JobAccount, Pubkey.from_string(result.job)) is None
            assert before - await market.chain.balance(tessera.keypair.pubkey()) == result.receipt.paid == 2 * 5_000


async def test_when_the_verifier_vanishes_anyone_unwinds_and_every_lamport_comes_back(tmp_path):
    """No aggregator ever settles: past the deadline and the grace period the SDK releases the provider's collateral
    and returns the client's escrow, from the chain alone."""
    from marketplace.chain import ProviderAccount, provider_address
    from provider.staking import Staking

    async with running_market(tmp_path, job_lifetime=2, grace_period=2, with_aggregator=False) as market:
        owner = Keypair()
        await market.chain.airdrop(owner.pubkey(), 5 * SOL)
        await Staking(market.chain, owner, market.address).register(2 * SOL, "http://127.0.0.1", 2)
        async with await funded_client(market) as tessera:
            deadline = int(time.time()) + 2
            job_id = 42
            address = job_address(market.address, job_id)[0]
            sent = await tessera.chain.send([ix.create_job(
                tessera.keypair.pubkey(), market.address, job_id, model_digest=MODEL_DIGEST,
                input_root=merkle_root([input_digest({"prompt": "a"})]), seed_commitment=b"s" * 32,
                price_per_shard=100_000, deadline=deadline, shard_count=1)], [tessera.keypair])
            await market.chain.send([ix.submit_results(owner.pubkey(), market.address, address, [0], b"r" * 32)], [owner])
            provider = provider_address(market.address, owner.pubkey())[0]
            assert (await market.chain.fetch(ProviderAccount, provider)).locked_stake > 0
            before = await market.chain.balance(tessera.keypair.pubkey())
            held = await market.chain.balance(address)
            # The deadline and the grace period pass on the chain's clock (a slot's, which may trail the wall's under
            # load); nobody settles. Before then the program refuses, and nothing lands.
            receipt = await once_the_chain_allows(lambda: tessera.unwind(str(address)), "GraceNotElapsed")
            assert (await market.chain.fetch(ProviderAccount, provider)).locked_stake == 0
            assert await market.chain.fetch(JobAccount, address) is None
            assert receipt.refunded == held and receipt.status == "unwound"
            assert await market.chain.balance(tessera.keypair.pubkey()) == before + held - receipt.fees
            assert sent.fee == 5_000


async def test_when_the_verifier_vanishes_an_epoch_job_unwinds_to_each_channel(tmp_path):
    """An epoch job two channels funded, whose verifier never settles: anyone unwinds it from the chain alone, each
    channel gets back everything it paid in, and the verifier its rent."""
    from marketplace.chain import (ChannelAccount, MarketAccount, ProviderAccount, channel_address, epoch_address,
                                   provider_address)
    from marketplace.chain.vouchers import Voucher
    from marketplace.economics import job_escrow
    from provider.staking import Staking

    async with running_market(tmp_path, job_lifetime=2, grace_period=2, with_aggregator=False) as market:
        owner = Keypair()
        await market.chain.airdrop(owner.pubkey(), 5 * SOL)
        await Staking(market.chain, owner, market.address).register(2 * SOL, "http://127.0.0.1", 2)
        verifier, channels = market.authority, []
        for _ in range(2):
            agent, authorizer = Keypair(), Keypair()
            await market.chain.airdrop(agent.pubkey(), 2 * SOL)
            await market.chain.send([ix.open_channel(agent.pubkey(), market.address, authorizer.pubkey(), SOL, 60)], [agent])
            channels.append((channel_address(market.address, agent.pubkey())[0], authorizer))
        job_id, price = 77, 100_000
        address = job_address(market.address, job_id)[0]
        await market.chain.send([ix.open_epoch(
            verifier.pubkey(), market.address, job_id, model_digest=MODEL_DIGEST, input_root=b"i" * 32,
            seed_commitment=b"s" * 32, price_per_shard=price, deadline=int(time.time()) + 2,
            shard_count=2)], [verifier])
        market_state = await market.chain.fetch(MarketAccount, market.address)
        escrow = job_escrow(price, 1, market_state.sampling_rate_bps, market_state.fee_bps)
        for channel, authorizer in channels:
            generation = (await market.chain.fetch(ChannelAccount, channel)).generation
            voucher = Voucher.sign(authorizer, channel, generation, escrow)
            await market.chain.send(ix.claim_epoch(verifier.pubkey(), market.address, address, voucher,
                                                   authorizer.pubkey(), 1), [verifier])
        await market.chain.send([ix.submit_results(owner.pubkey(), market.address, address, [0, 1], b"r" * 32)], [owner])
        before = [await market.chain.balance(c) for c, _ in channels]
        rents = await market.chain.balance(epoch_address(address)[0]) + await market.chain.balance(address) - 2 * escrow
        verifier_before = await market.chain.balance(verifier.pubkey())
        async with await funded_client(market) as stranger:
            await once_the_chain_allows(lambda: stranger.unwind(str(address)), "GraceNotElapsed")
        provider = provider_address(market.address, owner.pubkey())[0]
        assert (await market.chain.fetch(ProviderAccount, provider)).locked_stake == 0
        assert await market.chain.fetch(JobAccount, address) is None
        assert [await market.chain.balance(c) for c, _ in channels] == [b + escrow for b in before]
        assert await market.chain.balance(verifier.pubkey()) == verifier_before + rents
        assert [(await market.chain.fetch(ChannelAccount, c)).open_jobs for c, _ in channels] == [0, 0]
