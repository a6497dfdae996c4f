"""The real SmolLM2-135M-Instruct split over three stage providers (10 layers each), asked through the unmodified
`openai` package and the SDK, paid by voucher: the same greedy answer as the whole model in one process."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest
import torch
from solana.constants import LAMPORTS_PER_SOL

from client.local_market import LocalMarket
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.store import FragmentStore

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m-instruct"
QUESTIONS = ["What is the capital of France?", "Name three primary colors."]


async def test_smollm2_in_three_stages_answers_as_the_whole_model(tmp_path, smollm2):
    manifest = cut_model(smollm2.directory, FragmentStore(tmp_path / "fragments"), 3, name=MODEL)
    expected = []
    for question in QUESTIONS:
        text = smollm2.tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                                     add_generation_prompt=True)
        ids = smollm2.tokenizer(text)["input_ids"]
        tokens = smollm2.model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False)[0, len(ids):]
        expected.append(smollm2.tokenizer.decode(tokens, skip_special_tokens=True))

    stages = [("layers-0-9", "0-9"), ("layers-10-19", "10-19"), ("layers-20-29", "20-29")]
    async with LocalMarket(tmp_path / "market", models=[], providers=0, sampling_rate_bps=1_000,
                           fragment_store=tmp_path / "fragments", pipeline_model=manifest.hex, stages=stages) as market:
        agent = await market.fund("agent", 5 * LAMPORTS_PER_SOL)
        async with market.client(agent, timeout=300) as tessera:
            await tessera.open_channel(LAMPORTS_PER_SOL, withdraw_delay=60)
            ai = openai.OpenAI(base_url=market.aggregator.url + "/v1", api_key="unused", max_retries=0,
                               http_client=tessera.http_client())
            models = await asyncio.to_thread(ai.models.list)
            assert [(m.id, m.model_extra["digest"]) for m in models.data] == [(MODEL, manifest.hex)]
            question = [{"role": "user", "content": QUESTIONS[0]}]
            answer = await asyncio.to_thread(lambda: ai.chat.completions.create(
                model=MODEL, messages=question, max_tokens=24, temperature=0))
            assert answer.choices[0].message.content == expected[0]
            deltas = await asyncio.to_thread(lambda: [c.choices[0].delta.content for c in ai.chat.completions.create(
                model=MODEL, messages=question, max_tokens=24, temperature=0, stream=True)
                if c.choices and c.choices[0].delta.content])
            assert len(deltas) >= 2 and "".join(deltas) == expected[0]  # streamed as the stages generate it
            ai.close()
            sdk = await tessera.chat(QUESTIONS[1], model=manifest.hex, max_new_tokens=24)
            assert sdk.message["content"] == expected[1]
            # Each stage is paid like a shard, by its own provider.
            assert sorted(s["verdict"] for s in sdk.receipt.settlements) == ["pay"] * 3
        # No stage holds the model: each has its 10 layers resident and nothing of the other 20 or the head.
        whole = sum(p.numel() for p in smollm2.model.parameters())
        async with aiohttp.ClientSession() as http:
            for name, layers in stages:
                async with http.get(f"{market.stage_nodes[name].url}/health") as response:
                    health = await response.json()
                assert health["layers"] == layers and health["parameters"] < 0.27 * whole
