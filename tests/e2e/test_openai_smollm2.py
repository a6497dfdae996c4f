"""An agent chats with the real SmolLM2-135M-Instruct through the unmodified `openai` package, paying by voucher,
on a local market whose every part is its own process."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from solana.constants import LAMPORTS_PER_SOL

from client.local_market import LocalMarket
from marketplace import x402

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


async def test_an_agent_chats_with_smollm2_through_the_openai_package(tmp_path, smollm2):
    # Each request claimed before it is served: the payment response names its claim (epochs: tests/integration/test_epochs.py).
    async with LocalMarket(tmp_path / "market", models=[MODEL], providers=1, threads_per_provider=2, capacity=2,
                           epoch_seconds=0) as market:
        agent = await market.fund("agent", 5 * LAMPORTS_PER_SOL)
        async with market.client(agent, timeout=300) as tessera:
            await tessera.open_channel(LAMPORTS_PER_SOL, withdraw_delay=60)
            ai = openai.OpenAI(base_url=market.aggregator.url + "/v1", api_key="unused", max_retries=0,
                               http_client=tessera.http_client())
            models = await asyncio.to_thread(ai.models.list)
            assert [(m.id, m.model_extra["digest"]) for m in models.data] == [(MODEL, smollm2.hex)]
            raw = await asyncio.to_thread(lambda: ai.chat.completions.with_raw_response.create(
                model=MODEL, messages=QUESTION, max_tokens=16, temperature=0))
            answer = raw.parse()
            content = answer.choices[0].message.content
            assert content and answer.usage.completion_tokens <= 16 and answer.choices[0].finish_reason in ("stop", "length")
            # The same question through the SDK, paid the same way, gets the same greedy tokens.
            sdk = await tessera.chat(QUESTION, model=smollm2.hex, max_new_tokens=16)
            assert sdk.message["content"] == content
            # Streamed, the answer shows as the node generates it (several deltas), and is the verified one.
            poem = [{"role": "user", "content": "Write a short poem about the sea."}]
            whole = await asyncio.to_thread(lambda: ai.chat.completions.create(model=MODEL, messages=poem, max_tokens=48, temperature=0))
            deltas = await asyncio.to_thread(lambda: [c.choices[0].delta.content for c in ai.chat.completions.create(
                model=MODEL, messages=poem, max_tokens=48, temperature=0, stream=True) if c.choices and c.choices[0].delta.content])
            assert len(deltas) >= 2 and "".join(deltas) == whole.choices[0].message.content
            paid = x402.decode(raw.headers[x402.RESPONSE_HEADER])
            assert paid["payer"] == str(tessera.channel.address) and paid["transaction"]
            async with httpx.AsyncClient() as http:  # the public report: how it was verified and settled
                for _ in range(120):
                    report = (await http.get(f"{market.aggregator.url}/v1/jobs/{raw.headers['X-Tessera-Job']}")).json()
                    if report["status"] == "closed":
                        break
                    await asyncio.sleep(0.5)
            assert report["status"] == "closed" and [s["verdict"] for s in report["settlements"]] == ["pay"]
            ai.close()
