"""Chaos: kill -9 the stage serving a span mid-answer, inside the whole market. Another holder of the span takes
over by replaying the recorded inputs; the client gets the answer it would have got, the dead stage (which never
committed) is neither paid nor slashed, and every lamport is accounted for."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import torch
from solana.constants import LAMPORTS_PER_SOL
from transformers import AutoModelForCausalLM, AutoTokenizer

from client.local_market import LocalMarket
from marketplace.chain import JobAccount, ProviderAccount, provider_address
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.store import FragmentStore
from provider.model_builder import build_causal_lm

pytestmark = pytest.mark.slow
PROMPT = "The quick brown fox"
NEW_TOKENS = 300  # long enough (a second or so) to be caught mid-answer


async def test_a_stage_killed_mid_answer_is_replaced_and_the_answer_unchanged(tmp_path):
    source = build_causal_lm(tmp_path / "model", "llama", seed=7, layers=6, width=64)
    store = FragmentStore(tmp_path / "fragments")
    manifest = cut_model(source, store, 3)
    ids = AutoTokenizer.from_pretrained(source)(PROMPT)["input_ids"]
    whole = AutoModelForCausalLM.from_pretrained(source).eval()
    expected = whole.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False)[0, len(ids):].tolist()
    assert len(expected) == NEW_TOKENS  # no end of text early: the answer is long

    stages = [("first", "0-1"), ("middle", "2-3"), ("spare", "2-3"), ("last", "4-5")]
    async with LocalMarket(tmp_path / "market", models=[], providers=0, sampling_rate_bps=1_000,
                           fragment_store=store.root, pipeline_model=manifest.hex, stages=stages) as market:
        agent = await market.fund("agent", 5 * LAMPORTS_PER_SOL)
        fees_before, lamports_before = await market.fees_paid(), await market.lamports()

        async def kill_whoever_serves_the_middle() -> str:
            async with aiohttp.ClientSession() as http:
                while True:
                    for name in ("middle", "spare"):
                        async with http.get(f"{market.stage_nodes[name].url}/health") as response:
                            if (await response.json())["sessions"]:
                                await asyncio.sleep(0.2)  # some tokens in
                                market.stage_nodes[name].kill()
                                return name
                    await asyncio.sleep(0.005)

        async with market.client(agent, timeout=240) as tessera:
            killer = asyncio.create_task(kill_whoever_serves_the_middle())
            result = await tessera.generate(PROMPT, model=manifest.hex, max_new_tokens=NEW_TOKENS)
            killed = await asyncio.wait_for(killer, 1)
        survivor = "spare" if killed == "middle" else "middle"

        assert result.shards[0].output["token_ids"] == expected  # a pause, not another answer
        table = result.shards[0].output["stages"]
        assert table[1]["provider"] == str(market.participant(survivor).keypair.pubkey())
        assert result.receipt.status == "closed"

        dead = await market.chain.fetch(ProviderAccount, provider_address(
            market.address, market.participant(killed).keypair.pubkey())[0])
        assert dead.shards_served == 0 and dead.shards_slashed == 0 and dead.locked_stake == 0
        assert dead.stake == market.provider_stake
        assert await market.chain.all(JobAccount, market.address) == []
        fees = await market.fees_paid() - fees_before
        assert await market.lamports() + fees == lamports_before
