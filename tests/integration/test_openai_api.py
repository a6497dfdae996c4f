"""The unmodified `openai` package against the aggregator's OpenAI-compatible endpoints, paying by voucher through
HTTP 402 from a payment channel, over a real local market (localnet, aggregator, scripted providers)."""

from __future__ import annotations

import asyncio
import base64
import struct
import time

import httpx
import openai
import pytest
from solders.keypair import Keypair

from marketplace.chain import provider_address

from client import TesseraClient
from marketplace import x402
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, running_market
from tests.integration.scripted import MODEL_DIGEST, MODEL_NAME, embed, prompt_of, text_of
from tests.integration.test_aggregator_market import providers_running

DEPOSIT = 2 * SOL
AGENTS = 50  # paying at once, each through its own channel


async def paying_agent(market) -> TesseraClient:
    wallet = Keypair()
    await market.chain.airdrop(wallet.pubkey(), 10 * SOL)
    tessera = TesseraClient(market.aggregator_url, market.net.url, wallet, timeout=60)
    await tessera.open_channel(DEPOSIT, withdraw_delay=60)
    return tessera


def api(market, tessera: TesseraClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=market.aggregator_url + "/v1", api_key="unused", max_retries=0,
                              http_client=tessera.async_http_client())


async def test_models_chat_completions_and_embeddings_through_the_openai_package(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"] * 2):
        async with await paying_agent(market) as tessera:
            client = api(market, tessera)
            models = await client.models.list()
            assert [(m.id, m.model_extra["digest"]) for m in models.data] == [(MODEL_NAME, MODEL_DIGEST.hex())]
            assert (await client.models.retrieve(MODEL_NAME)).id == MODEL_NAME

            messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime."}]
            chat = await client.chat.completions.with_raw_response.create(model=MODEL_NAME, messages=messages, max_tokens=5,
                                                                         temperature=0)
            answer = chat.parse()
            tokens = expected_tokens(prompt_of({"messages": messages}), 5)
            assert answer.choices[0].message.content == text_of(tokens) and answer.choices[0].finish_reason == "length"
            assert answer.usage.completion_tokens == 5 and answer.object == "chat.completion"
            paid = x402.decode(chat.headers[x402.RESPONSE_HEADER])
            assert paid["success"] and paid["payer"] == str(tessera.channel.address) and paid["job"] == chat.headers["X-Tessera-Job"]

            completion = await client.completions.create(model=MODEL_NAME, prompt="Once upon", max_tokens=3, temperature=0,
                                                         stop=[text_of(expected_tokens("Once upon", 3))[1:]])
            assert completion.choices[0].text == text_of(expected_tokens("Once upon", 3))[:1]
            assert completion.choices[0].finish_reason == "stop"

            floats = await client.embeddings.create(model=MODEL_NAME, input=["a cat", "a kitten"])
            for data, text in zip(floats.data, ["a cat", "a kitten"], strict=True):
                assert data.embedding == pytest.approx(embed(text))
            packed = await client.embeddings.create(model=MODEL_NAME, input="a cat", encoding_format="base64")
            raw = base64.b64decode(packed.data[0].embedding)
            assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(embed("a cat"), rel=1e-6)
            await client.close()


async def test_streamed_chat_comes_role_first_content_then_usage_and_done(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await paying_agent(market) as tessera:
            client = api(market, tessera)
            stream = await client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "Hi"}],
                                                          max_completion_tokens=4, temperature=0, stream=True,
                                                          stream_options={"include_usage": True})
            chunks = [chunk async for chunk in stream]
            assert chunks[0].choices[0].delta.role == "assistant"
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert content == text_of(expected_tokens(prompt_of({"messages": [{"role": "user", "content": "Hi"}]}), 4))
            assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
            assert chunks[-1].usage.completion_tokens == 4 and not chunks[-1].choices
            await client.close()


async def test_unpaid_unknown_and_unsupported_requests_get_openai_errors(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await paying_agent(market) as tessera:
            unpaying = openai.AsyncOpenAI(base_url=market.aggregator_url + "/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.APIStatusError) as refused:
                await unpaying.completions.create(model=MODEL_NAME, prompt="free?", max_tokens=2)
            assert refused.value.status_code == 402 and refused.value.code == "payment_required"
            required = x402.decode(refused.value.response.headers[x402.REQUIRED_HEADER])
            [accepts] = required["accepts"]
            assert required["x402Version"] == 2 and accepts["scheme"] == "tessera-channel"
            assert accepts["network"].startswith("solana:") and int(accepts["amount"]) > 0 and accepts["extra"]["jobId"] >= 0
            await unpaying.close()

            client = api(market, tessera)
            with pytest.raises(openai.NotFoundError) as missing:
                await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
            assert missing.value.code == "model_not_found"
            for call in (lambda: client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "x"}], n=2),
                         lambda: client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "x"}],
                                                                tools=[{"type": "function", "function": {"name": "f"}}]),
                         lambda: client.completions.create(model=MODEL_NAME, prompt="x", max_tokens=100_000)):
                with pytest.raises(openai.BadRequestError) as bad:
                    await call()
                assert bad.value.body["param"] in ("n", "tools", "max_tokens"), bad.value.body
            await client.close()
            # Nothing was claimed for any of them.
            assert (await tessera.channel_status())["claimed"] == 0


async def test_a_stream_the_client_cuts_off_still_settles_and_concurrent_agents_are_served(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"] * 2):
        async with await paying_agent(market) as tessera:
            async with tessera.async_http_client() as http:
                request = {"model": MODEL_NAME, "messages": [{"role": "user", "content": "cut me off"}], "max_tokens": 3,
                           "temperature": 0, "stream": True}
                async with http.stream("POST", market.aggregator_url + "/v1/chat/completions", json=request) as response:
                    job = response.headers["X-Tessera-Job"]
                    async for _ in response.aiter_lines():
                        break  # the role chunk, then the client goes away
            report = await market.wait_for(job, timeout=60)  # the job runs on and settles
            assert [s["verdict"] for s in report["settlements"]] == ["pay"]

        agents = await asyncio.gather(*(paying_agent(market) for _ in range(AGENTS)))

        async def ask(tessera: TesseraClient, i: int) -> str:
            async with api(market, tessera) as client:
                done = await client.completions.create(model=MODEL_NAME, prompt=f"agent {i}", max_tokens=2, temperature=0)
            await tessera.close()
            return done.choices[0].text

        answers = await asyncio.gather(*(ask(a, i) for i, a in enumerate(agents)))
        assert answers == [text_of(expected_tokens(f"agent {i}", 2)) for i in range(AGENTS)]


async def test_one_agent_asking_at_once_is_served_and_a_bare_voucher_pays_once(tmp_path):
    """Thirty requests at once through one agent's client: their vouchers reach the claims in any order and all pay.
    A voucher taken from one of them and offered again, with a fresh quote, is refused: nothing but the voucher
    authenticates such a request, so each voucher pays for one."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"] * 2):
        async with await paying_agent(market) as tessera:
            sent: list[str] = []

            async def keep(request):
                if x402.SIGNATURE_HEADER in request.headers:
                    sent.append(request.headers[x402.SIGNATURE_HEADER])

            async with tessera.async_http_client(event_hooks={"request": [keep]}) as http:
                client = openai.AsyncOpenAI(base_url=market.aggregator_url + "/v1", api_key="unused", max_retries=0,
                                            http_client=http)
                done = await asyncio.gather(*(client.completions.create(model=MODEL_NAME, prompt=f"at once {i}", max_tokens=2,
                                                                        temperature=0) for i in range(30)))
                assert [d.choices[0].text for d in done] == [text_of(expected_tokens(f"at once {i}", 2)) for i in range(30)]

            body = {"model": MODEL_NAME, "prompt": "replayed", "max_tokens": 2}
            async with httpx.AsyncClient() as bare:
                asked = await bare.post(market.aggregator_url + "/v1/completions", json=body)  # a 402, left unanswered
                fresh = x402.decode(asked.headers[x402.REQUIRED_HEADER])["accepts"][0]
                replay = x402.encode({**x402.decode(sent[0]), "accepted": fresh})
                refused = await bare.post(market.aggregator_url + "/v1/completions", json=body,
                                          headers={x402.SIGNATURE_HEADER: replay})
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "voucher_replayed"
            cost = int(fresh["amount"])  # a request's escrow, what each claim moves
            assert (await tessera.channel_status())["claimed"] == 30 * cost  # the thirty, and nothing for the replay


def test_the_payment_header_round_trips():
    header = x402.encode({"x402Version": 2, "accepted": {"scheme": "tessera-channel"}})
    assert x402.decode(header)["accepted"]["scheme"] == "tessera-channel"
    with pytest.raises(ValueError):
        x402.decode("not base64!")


async def test_a_stream_shows_the_answer_token_by_token_as_it_is_generated(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, \
            providers_running(market, ["honest"]) as [provider]:
        provider.stream_delay = 0.2
        async with await paying_agent(market) as tessera, api(market, tessera) as client:
            stream = await client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "stream me"}],
                                                          max_tokens=6, temperature=0, stream=True)
            deltas, arrivals = [], []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    deltas.append(chunk.choices[0].delta.content)
                    arrivals.append(time.monotonic())
    assert "".join(deltas) == text_of(expected_tokens("user: stream me", 6))  # what was shown is what was verified
    assert len(deltas) >= 3 and arrivals[-1] - arrivals[0] >= 0.4  # as it was generated, not whole at the end


async def test_a_streamed_answer_found_wrong_is_refunded_to_the_channel(tmp_path):
    """A lying primary streams its answer; the check a replica makes once other owners come finds it wrong, and a
    referee agrees. The stream ends in `answer_refunded`, nothing is run again, the liar is slashed, the replica's
    check is paid, and the channel pays nothing for the answer it was shown: the rest of its escrow, and half the
    slash, come back when the job closes (at once: the check paid the shard)."""
    price, fee_bps = 100_000, 200  # the aggregator's quote and the test market's fee
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["liar"]) as [liar]:
        liar.stream_delay = 0.02
        async with await paying_agent(market) as tessera, api(market, tessera) as client:
            channel = tessera.channel.address
            before = await market.chain.balance(channel)
            stream = await client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "lie to me"}],
                                                          max_tokens=4, temperature=0, stream=True)
            shown = []
            async with providers_running(market, ["honest", "honest"]):  # a replica, then a referee
                liar_stake = provider_address(market.address, liar.owner)[0]
                stake_before, treasury_before = [await market.chain.balance(a) for a in (liar_stake, market.treasury)]
                with pytest.raises(openai.APIError, match="found wrong"):
                    async for chunk in stream:
                        if chunk.choices and chunk.choices[0].delta.content:
                            shown.append(chunk.choices[0].delta.content)
                job = stream.response.headers["X-Tessera-Job"]
                report = await market.wait_for(job, timeout=90)
                slashed = stake_before - await market.chain.balance(liar_stake)
                treasury_gain = await market.chain.balance(market.treasury) - treasury_before
                spent = before - await market.chain.balance(channel)
    [shard] = report["shards"]
    assert "".join(shown) and shard["status"] == "refunded" and shard["output"] is None
    assert [r["role"] for r in shard["runs"]].count("primary") == 1  # not run again
    assert next(r for r in shard["runs"] if r["role"] == "primary")["fault"] is True
    assert slashed > 0
    fees = treasury_gain - (slashed - slashed // 2)  # the treasury takes the fees and half the slash
    paid_to_providers = spent - fees + slashed // 2  # the other half is the client's
    assert paid_to_providers == price and fees == price * fee_bps // 10_000  # the replica's check, nobody's answer
    assert report["settlements"] and all(s["accepted"] == [0] or s["verdict"] == "slash" for s in report["settlements"])


async def test_a_stream_whose_shown_answer_is_not_the_verified_one_ends_in_an_error(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, \
            providers_running(market, ["misstreamer"]) as [provider]:
        provider.stream_delay = 0.05
        async with await paying_agent(market) as tessera, api(market, tessera) as client:
            stream = await client.completions.create(model=MODEL_NAME, prompt="shown wrong", max_tokens=4, temperature=0, stream=True)
            shown = []
            with pytest.raises(openai.APIError, match="found wrong"):
                async for chunk in stream:
                    shown.append(chunk.choices[0].text if chunk.choices else "")
            job = stream.response.headers["X-Tessera-Job"]
            report = await market.wait_for(job, timeout=60)
    assert "".join(shown) and "".join(shown) != text_of(expected_tokens("shown wrong", 4))
    assert report["shards"][0]["status"] == "verified"  # the answer the provider posted, not the one it showed
