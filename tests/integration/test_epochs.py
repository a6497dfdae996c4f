"""Requests paid by voucher served in epochs, against the aggregator over HTTP and localnet: each is answered at once,
before anything is on chain; at the epoch's end one job carries every channel's requests, each channel's claim pays
its own range, providers commit, and at close each channel has paid exactly the work done on its own shards."""

from __future__ import annotations

import asyncio
import time

import pytest
from solders.pubkey import Pubkey

from client.errors import AggregatorRefused
from marketplace import x402
from marketplace.aggregator import channel_views
from marketplace.aggregator.channel_views import VIEW_SECONDS
from marketplace.aggregator.epochs import PROVISIONAL
from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain import ChannelAccount, JobAccount, ProviderAccount, provider_address
from marketplace.chain import instructions as ix
from marketplace.economics import job_escrow
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, running_market
from tests.integration.scripted import MODEL_DIGEST, MODEL_NAME, embed, prompt_of, text_of
from tests.integration.test_aggregator_market import providers_running
from tests.integration.test_channels import agent, paid_request
from tests.integration.test_openai_api import api
from tests.storage.conftest import postgres_schema

EPOCH_SECONDS = 3.0
PRICE, FEE_BPS = 100_000, 200


async def test_requests_from_many_channels_are_served_at_once_and_paid_together_in_one_job(tmp_path):
    # The epoch ends by its time, well after the answers: they come before anything moves.
    async with running_market(tmp_path, sampling_rate_bps=2_500, epoch_seconds=10) as market, \
            providers_running(market, ["honest"] * 3):
        agents = [await agent(market) for _ in range(3)]
        try:
            channels = [await tessera.open_channel(2 * SOL, withdraw_delay=3_600) for tessera in agents]
            held = [await market.chain.balance(c.address) for c in channels]
            wallets = [await market.chain.balance(t.keypair.pubkey()) for t in agents]
            results = await asyncio.gather(*(tessera.generate(f"agent {a} asks {i}", model=MODEL_DIGEST, max_new_tokens=3)
                                             for a, tessera in enumerate(agents) for i in range(4)))
            # Answered before the epoch was paid for: nothing moved yet, and no agent signed anything.
            for n, result in enumerate(results):
                a, i = divmod(n, 4)
                assert result.shards[0].output["token_ids"] == expected_tokens(f"agent {a} asks {i}", 3)
                assert result.receipt.channel == str(channels[a].address) and result.receipt.fees == 0
            assert [await market.chain.balance(c.address) for c in channels] == held
            epochs = {r.receipt.job for r in results}
            assert len(epochs) == 12  # each request keeps its own handle...
            _, report = await market.request("GET", f"/v1/jobs/{results[0].receipt.job}", reader=channels[0].authorizer)
            epoch = report["epoch"]["job"]  # ...and all share one epoch job
            assert report["epoch"]["payment"] == "in_epoch"
            for n, result in enumerate(results):
                _, own = await market.request("GET", f"/v1/jobs/{result.receipt.job}", reader=channels[n // 4].authorizer)
                assert own["epoch"]["job"] == epoch and own["shard_count"] == 1

            closed = await market.wait_for(epoch, timeout=90)
            assert {s["verdict"] for s in closed["settlements"]} == {"pay"}
            assert sorted(s["index"] for s in closed["shards"]) == list(range(12))  # laid out: no provisional index left
            assert await market.chain.fetch(JobAccount, Pubkey.from_string(epoch)) is None
            # Each channel paid exactly the executions on its own shards (its replicas included), with the fee on them.
            for a, tessera in enumerate(agents):
                reports = [(await market.request("GET", f"/v1/jobs/{r.receipt.job}", reader=channels[a].authorizer))[1]
                           for r in results[4 * a:4 * a + 4]]
                assert all(r["epoch"]["payment"] == "claimed" and r["epoch"]["claim_signature"] for r in reports)
                assert len({r["shards"][0]["chain_index"] for r in reports}) == 4
                executions = sum(len(r["shards"][0]["providers"]) for r in reports)
                spent = held[a] - await market.chain.balance(channels[a].address)
                assert spent == executions * (PRICE + PRICE * FEE_BPS // 10_000)
                assert spent <= 4 * job_escrow(PRICE, 1, 2_500, FEE_BPS)  # never more than its vouchers authorized
                assert await market.chain.balance(tessera.keypair.pubkey()) == wallets[a]
                status = await tessera.channel_status()
                assert status["owed"] == 0 and status["open_jobs"] == 0
        finally:
            for tessera in agents:
                await tessera.close()


async def test_the_openai_package_is_answered_at_once_and_its_requests_settle_with_the_epoch(tmp_path):
    """Plain, streamed and embedding requests through the unmodified `openai` package are answered before anything is
    on chain (the payment response names the epoch and no transaction yet); the epoch then settles them."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, epoch_seconds=EPOCH_SECONDS) as market, \
            providers_running(market, ["honest"] * 2) as providers:
        providers[0].stream_delay = providers[1].stream_delay = 0.01
        async with await agent(market) as tessera:
            await tessera.open_channel(2 * SOL, withdraw_delay=3_600)
            client = api(market, tessera)
            messages = [{"role": "user", "content": "Name a prime."}]
            chat = await client.chat.completions.with_raw_response.create(model=MODEL_NAME, messages=messages, max_tokens=4,
                                                                         temperature=0)
            assert chat.parse().choices[0].message.content == text_of(expected_tokens(prompt_of({"messages": messages}), 4))
            paid = x402.decode(chat.headers[x402.RESPONSE_HEADER])
            assert paid["transaction"] == "" and paid["epoch"] and paid["job"] == chat.headers["X-Tessera-Job"]

            stream = await client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=4, temperature=0,
                                                          stream=True)
            content = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            assert content == text_of(expected_tokens(prompt_of({"messages": messages}), 4))
            vectors = await client.embeddings.create(model=MODEL_NAME, input=["a cat"])
            assert vectors.data[0].embedding == pytest.approx(embed("a cat"))
            await client.close()

            status = await tessera.channel_status()
            assert status["owed"] > 0 and {v["status"] for v in status["vouchers"]} == {"in_epoch"}
            epochs = {v["epoch"] for v in status["vouchers"]}
            assert len(epochs) == 3  # an epoch per kind of work: chat shown as generated, chat answered once verified, embeddings
            for epoch in epochs:
                await market.wait_for(epoch, timeout=90)
            status = await tessera.channel_status()
            assert status["owed"] == 0 and {v["status"] for v in status["vouchers"]} == {"claimed"}


async def test_a_request_taken_in_tells_its_revision_so_the_client_waits_without_asking_first(tmp_path):
    """The answer to a paid request carries its report's revision as taken in: the client's first long poll waits
    from it (no report is read before anything changes). A provider that claims and never answers keeps it there."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, epoch_seconds=EPOCH_SECONDS) as market, \
            providers_running(market, ["lazy"]):
        async with await agent(market) as tessera:
            await tessera.open_channel(2 * SOL, withdraw_delay=3_600)
            submitted = await tessera.submit("generate", [{"prompt": "waiting"}], MODEL_DIGEST, {"max_new_tokens": 2})
            assert submitted.epoch and submitted.revision
            assert (await tessera.status(submitted.job))["revision"] == submitted.revision


@pytest.mark.slow
async def test_kill_9_between_serving_and_claiming_loses_nothing_and_claims_once(tmp_path):
    """The aggregator is killed right after it served an epoch's requests, and again once the epoch is on chain and
    not settled: the requests kept with their vouchers are claimed once, settled and closed; each channel pays
    exactly the work on its own shards."""
    async with running_market(tmp_path, sampling_rate_bps=2_500, with_aggregator=False) as market:
        agg = AggregatorProcess(market.net.url, market.config.keypair, str(market.address), market.config.db_url,
                                ws=market.net.ws_url, log=tmp_path / "aggregator.log", epoch_seconds=60, epoch_shards=6)
        await agg.start()
        market.aggregator_url = agg.url
        try:
            async with providers_running(market, ["honest"] * 2) as providers:
                agents = [await agent(market) for _ in range(2)]
                channels = [await tessera.open_channel(2 * SOL, withdraw_delay=3_600) for tessera in agents]
                held = [await market.chain.balance(c.address) for c in channels]
                results = await asyncio.gather(*(tessera.generate(f"before the kill {a}.{i}", model=MODEL_DIGEST,
                                                                  max_new_tokens=2)
                                                 for a, tessera in enumerate(agents) for i in range(3)))
                for provider in providers:  # the epoch, once on chain, waits for their commitments
                    provider.committing = False
                agg.kill()  # served, kept, not claimed: the epoch is full, and has not gone on chain yet
                await agg.start()
                _, report = await market.request("GET", f"/v1/jobs/{results[0].receipt.job}", reader=channels[0].authorizer)
                epoch, kills = report["epoch"]["job"], 1
                async with asyncio.timeout(90):
                    while (state := (await market.request("GET", f"/v1/jobs/{epoch}"))[1])["status"] != "closed":
                        if kills < 2 and state["epoch_state"] == "open":
                            assert not state["settlements"]
                            agg.kill()  # opened and claimed on chain, not settled
                            kills += 1
                            for provider in providers:
                                provider.committing = True
                            await agg.start()
                        await asyncio.sleep(0.05)
                assert kills == 2
                for a, tessera in enumerate(agents):
                    reports = [(await market.request("GET", f"/v1/jobs/{r.receipt.job}", reader=channels[a].authorizer))[1]
                               for r in results[3 * a:3 * a + 3]]
                    assert [r["shards"][0]["output"]["token_ids"] for r in reports] == [
                        expected_tokens(f"before the kill {a}.{i}", 2) for i in range(3)]
                    executions = sum(len(r["shards"][0]["providers"]) for r in reports)
                    assert held[a] - await market.chain.balance(channels[a].address) == executions * (PRICE + PRICE * FEE_BPS // 10_000)
                    await tessera.close()
        finally:
            agg.kill()


async def test_a_liar_in_an_epoch_is_slashed_and_the_channel_it_cheated_is_credited(tmp_path):
    """A provider lies on every shard it runs in an epoch (every shard checked): its lies are caught before the epoch
    opens, its shards run again, and at settlement it is slashed with evidence; half the slash goes to the channel
    whose shard it faked, and each channel pays exactly the good work on its own shards, less that credit."""
    async with running_market(tmp_path, sampling_rate_bps=10_000, epoch_seconds=60, epoch_shards=8) as market, \
            providers_running(market, ["honest", "honest", "liar"]) as providers:
        liar = providers[2]
        liar.lie_on = set(range(PROVISIONAL, 2 * PROVISIONAL))
        stake_before = (await market.chain.fetch(ProviderAccount, provider_address(market.address, liar.owner)[0])).stake
        agents = [await agent(market) for _ in range(2)]
        try:
            channels = [await tessera.open_channel(2 * SOL, withdraw_delay=3_600) for tessera in agents]
            held = [await market.chain.balance(c.address) for c in channels]
            results = await asyncio.gather(*(tessera.generate(f"liar's epoch {a}.{i}", model=MODEL_DIGEST, max_new_tokens=2)
                                             for a, tessera in enumerate(agents) for i in range(4)))
            for n, result in enumerate(results):  # every lie was caught and run again: each answer is right
                assert result.shards[0].output["token_ids"] == expected_tokens(f"liar's epoch {n // 4}.{n % 4}", 2)
            _, report = await market.request("GET", f"/v1/jobs/{results[0].receipt.job}", reader=channels[0].authorizer)
            closed = await market.wait_for(report["epoch"]["job"], timeout=90)
            assert "slash" in {s["verdict"] for s in closed["settlements"]}
            slashed = stake_before - (await market.chain.fetch(ProviderAccount, provider_address(market.address, liar.owner)[0])).stake
            credit = slashed // 2
            assert credit > 0
            credits = []
            for a in range(2):
                reports = [(await market.request("GET", f"/v1/jobs/{r.receipt.job}", reader=channels[a].authorizer))[1]
                           for r in results[4 * a:4 * a + 4]]
                executions = sum(len(r["shards"][0]["providers"]) for r in reports)
                spent = held[a] - await market.chain.balance(channels[a].address)
                credits.append(executions * (PRICE + PRICE * FEE_BPS // 10_000) - spent)
            assert sorted(credits) == [0, credit]
        finally:
            for tessera in agents:
                await tessera.close()


@pytest.mark.slow
async def test_an_agent_pays_a_thousand_requests_through_one_channel_in_one_epoch(tmp_path):
    """1,000 requests through one channel, twenty at a time: each answered as it is verified, all paid by one claim
    in one epoch job; the channel pays exactly their work and the agent's wallet nothing. The aggregator keeps its
    state in PostgreSQL, as a market serving this many would."""
    async with postgres_schema("thousand") as (url, schema), \
            running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, with_aggregator=False) as market, \
            AggregatorProcess(market.net.url, market.config.keypair, str(market.address), url, schema,
                              ws=market.net.ws_url, log=tmp_path / "aggregator.log", epoch_seconds=600, epoch_shards=1_000) as aggregator:
        market.aggregator_url = aggregator.url  # its own process: the test's is busy with the agent and providers
        async with providers_running(market, ["honest"] * 3), await agent(market) as tessera:
            channel = await tessera.open_channel(2 * SOL, withdraw_delay=3_600)
            held, wallet = await market.chain.balance(channel.address), await market.chain.balance(tessera.keypair.pubkey())
            at_once = asyncio.Semaphore(20)

            async def ask(i: int):
                async with at_once:
                    return await tessera.generate(f"one of a thousand: {i}", model=MODEL_DIGEST, max_new_tokens=1)

            results = await asyncio.gather(*(ask(i) for i in range(1_000)))
            assert [r.shards[0].output["token_ids"] for r in results] == [
                expected_tokens(f"one of a thousand: {i}", 1) for i in range(1_000)]
            status = await tessera.channel_status()
            [epoch] = {v["epoch"] for v in status["vouchers"]}
            closed = await market.wait_for(epoch, timeout=120)
            assert closed["shard_count"] == 1_000
            status = await tessera.channel_status()
            assert status["owed"] == 0 and len({v["claim_signature"] for v in status["vouchers"]}) == 1  # one claim
            executions = sum(len(s["providers"]) for s in closed["shards"])
            assert held - await market.chain.balance(channel.address) == executions * (PRICE + PRICE * FEE_BPS // 10_000)
            assert await market.chain.balance(tessera.keypair.pubkey()) == wallet


async def test_an_agent_that_leaves_after_being_served_still_pays_and_channels_that_could_leave_first_are_refused(tmp_path):
    """Served in an epoch, the agent asks to withdraw at once: it is refused new requests (once the market's view of the
    channel is that recent), and the epochs' claims still take what it owes, since a channel paying in epochs must wait
    longer to withdraw than an epoch takes to be claimed. A channel with a shorter delay is refused before anything is
    served."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, epoch_seconds=EPOCH_SECONDS,
                              job_lifetime=30) as market, providers_running(market, ["honest"] * 2):
        async with await agent(market) as hasty, await agent(market) as leaving:
            await hasty.open_channel(SOL, withdraw_delay=30)
            with pytest.raises(AggregatorRefused) as refused:
                await hasty.generate("too hasty", model=MODEL_DIGEST, max_new_tokens=2)
            assert refused.value.code == "channel_delay_short"
            assert (await hasty.channel_status())["vouchers"] == []

            channel = await leaving.open_channel(SOL, withdraw_delay=60)
            held = await market.chain.balance(channel.address)
            served = [await leaving.generate("served, then gone", model=MODEL_DIGEST, max_new_tokens=2)]
            await leaving.request_withdraw()
            asked_to_leave = time.monotonic()
            # The market sees it through its subscription to the channel, or at worst once its view is read again: a
            # request meanwhile may still be served, and is paid for as well.
            try:
                served.append(await leaving.generate("right after", model=MODEL_DIGEST, max_new_tokens=2))
            except AggregatorRefused as refused_at_once:
                assert refused_at_once.code == "channel_closing"
            await asyncio.sleep(max(0.0, asked_to_leave + VIEW_SECONDS - time.monotonic()))
            with pytest.raises(AggregatorRefused) as closing:
                await leaving.generate("one more?", model=MODEL_DIGEST, max_new_tokens=2)
            assert closing.value.code == "channel_closing"
            for answer in served:
                _, report = await market.request("GET", f"/v1/jobs/{answer.receipt.job}", reader=channel.authorizer)
                await market.wait_for(report["epoch"]["job"], timeout=60)
            executions = sum(len(answer.shards[0].providers) for answer in served)
            assert held - await market.chain.balance(channel.address) == executions * (PRICE + PRICE * FEE_BPS // 10_000)
            assert [v["status"] for v in (await leaving.channel_status())["vouchers"]] == ["claimed"] * len(served)


async def test_a_voucher_counting_on_a_claim_the_markets_view_does_not_show_yet_is_refused(tmp_path, monkeypatch):
    """The market checks vouchers on its view of the channel, here read before the epoch's claim landed and kept for
    the whole test (neither read again nor replaced by what its subscription hears): the claim still counts (vouchers
    keep the slot their claim landed in), so a voucher that would pay only if it were missed is refused, and one that
    covers it is served."""
    monkeypatch.setattr(channel_views, "VIEW_SECONDS", 600.0)
    monkeypatch.setattr(channel_views.ChannelViews, "seen", lambda views, channel, state: None)
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, epoch_seconds=EPOCH_SECONDS,
                              job_lifetime=30) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            channel = await tessera.open_channel(SOL, withdraw_delay=3_600)
            cost = job_escrow(PRICE, 1, RAREST_SAMPLING_BPS, FEE_BPS)
            status, first = await paid_request(market, tessera, channel.voucher(cost))
            assert status == 201 and first["epoch"], first
            async with asyncio.timeout(60):
                while (await tessera.channel_status())["vouchers"][0]["status"] != "claimed":
                    await asyncio.sleep(0.2)
            assert (await market.chain.fetch(ChannelAccount, channel.address)).claimed == cost
            status, refused = await paid_request(market, tessera, channel.voucher(2 * cost - 1))
            assert (status, refused["error"]["code"]) == (402, "voucher_too_small"), refused
            status, second = await paid_request(market, tessera, channel.voucher(2 * cost))
            assert status == 201 and second["epoch"] != first["epoch"], second


async def test_an_owner_topping_up_or_leaving_reaches_the_markets_view_at_once(tmp_path):
    """The market keeps its view of a channel current through an account subscription: a top-up and a
    request_withdraw show in it well before the view would be read again, and the next request is refused at once."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS, epoch_seconds=EPOCH_SECONDS,
                              job_lifetime=30) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            channel = await tessera.open_channel(SOL, withdraw_delay=3_600)
            await tessera.generate("seen once", model=MODEL_DIGEST, max_new_tokens=2)
            views = market.service.channels.views
            viewed = views.peek(channel.address)
            asked = time.monotonic()

            async def until(shown) -> None:
                async with asyncio.timeout(VIEW_SECONDS / 2):
                    while not shown(views.peek(channel.address)):
                        await asyncio.sleep(0.02)

            await market.chain.send([ix.top_up_channel(tessera.keypair.pubkey(), channel.address, SOL // 2)],
                                    [tessera.keypair])
            await until(lambda state: state.free == viewed.free + SOL // 2)
            await tessera.request_withdraw()
            await until(lambda state: state.account.withdrawable_at > 0)
            with pytest.raises(AggregatorRefused) as closing:
                await tessera.generate("one more?", model=MODEL_DIGEST, max_new_tokens=2)
            assert closing.value.code == "channel_closing"
            assert time.monotonic() - asked < VIEW_SECONDS
