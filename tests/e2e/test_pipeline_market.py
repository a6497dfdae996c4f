"""A model split over stage providers, sold through the whole market: localnet, the aggregator driving the
pipeline, seven stage nodes (one of them lying), and a client paying through the SDK."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
import torch
from solana.constants import LAMPORTS_PER_SOL
from solders.keypair import Keypair
from transformers import AutoModelForCausalLM, AutoTokenizer

from client.audit import Finding, audit_job
from client.errors import AggregatorRefused
from client.local_market import LocalMarket, python_module
from marketplace.chain import JobAccount, ProviderAccount, provider_address
from marketplace.messages import sign_message
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.store import FragmentStore
from provider.model_builder import build_causal_lm

pytestmark = pytest.mark.slow
PROMPTS = ["The quick brown fox", "A model reads a prompt and"]
NEW_TOKENS = 8


async def refused_requests(market, tessera, model: str) -> None:
    """Bad requests about pipelines get clear errors and leave nothing behind."""
    async with aiohttp.ClientSession() as http:
        for path, status, code in ((f"/v1/pipelines/{'0' * 64}", 404, "pipeline_not_found"),
                                   ("/v1/pipelines/not-a-digest", 400, "bad_request")):
            async with http.get(market.aggregator.url + path) as response:
                assert (response.status, (await response.json())["error"]["code"]) == (status, code)
        # Only the market's verifier may make a stage commit (a commitment costs it a fee and locks its stake).
        stage = market.stage_nodes["first"].url
        verifier, agent = market.participant("verifier").keypair, tessera.keypair
        job = str(Keypair().pubkey())

        async def commit(message) -> tuple[int, str]:
            async with http.post(f"{stage}/v1/commit", json=message.to_json()) as response:
                return response.status, (await response.json())["error"]["code"]

        assert await commit(sign_message(agent, "stage_commit", {"shards": {"0": "s"}}, job=job)) == (401, "message_invalid")
        assert await commit(sign_message(verifier, "stage_commit", {"shards": {"0": "s"}})) == (400, "message_malformed")
        asked = sign_message(verifier, "stage_commit", {"shards": {"0": "no-such-session"}}, job=job)
        assert await commit(asked) == (404, "session_unknown")
        assert await commit(asked) == (401, "message_replayed")
        forged = base64.b64encode(json.dumps(sign_message(agent, "stage_check", {"shard": 0, "input_sha256": "0" * 64},
                                                          job=job).to_json()).encode()).decode()
        async with http.post(f"{stage}/v1/recompute", data=b"\0" * 256,
                             headers={"Content-Type": "application/octet-stream", "X-Tessera-Check": forged}) as response:
            assert response.status == 401
    # A client that names the wrong spans: the aggregator refuses the inputs; the client cancels, everything back.
    tessera._pipelines[model] = [Span(0, 3), Span(3, 6)]
    with pytest.raises(AggregatorRefused) as refused:
        await tessera.generate("The quick brown fox", model=model, max_new_tokens=4)
    assert refused.value.status == 400 and "3 spans" in str(refused.value)
    del tessera._pipelines[model]
    (address, _), = await market.chain.all(JobAccount, market.address)
    assert (await tessera.cancel(str(address))).refunded > 0


def keys_with_first(name: str, others: list[str]) -> dict[str, Keypair]:
    """Keypairs where `name`'s address sorts before the others': unmeasured holders are ranked by owner, so this
    makes `name` the first choice for its span."""
    keys = {n: Keypair() for n in [name, *others]}
    while min(keys.values(), key=lambda k: str(k.pubkey())) is not keys[name]:
        keys[name] = Keypair()
    return keys


async def test_a_pipelined_model_answers_pays_each_stage_and_slashes_the_lying_one(tmp_path):
    source = build_causal_lm(tmp_path / "model", "llama", seed=7, layers=6, width=64)
    store = FragmentStore(tmp_path / "fragments")
    manifest = cut_model(source, store, 3)
    whole, tokenizer = AutoModelForCausalLM.from_pretrained(source).eval(), AutoTokenizer.from_pretrained(source)
    expected = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt)["input_ids"]
        expected.append(whole.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False)[0, len(ids):].tolist())

    stages = [("first", "0-1"), ("liar", "2-3"), ("last", "4-5"),  # primaries (the liar ranks first for 2-3)
              ("check-first", "0-1"), ("check-middle", "2-3"), ("check-last", "4-5"), ("referee", "2-3")]
    async with LocalMarket(tmp_path / "market", models=[], providers=0, sampling_rate_bps=10_000,
                           fragment_store=store.root, pipeline_model=manifest.hex, stages=stages,
                           stage_commands={"liar": python_module("tests.e2e.lying_stage")},
                           keypairs=keys_with_first("liar", ["check-middle", "referee"])) as market:
        agent = await market.fund("agent", 5 * LAMPORTS_PER_SOL)
        fees_before, lamports_before = await market.fees_paid(), await market.lamports()
        async with market.client(agent, timeout=240) as tessera:
            assert [str(s) for s in await tessera.pipeline(manifest.hex)] == ["0-1", "2-3", "4-5"]
            result = await tessera.generate(PROMPTS, model=manifest.hex, max_new_tokens=NEW_TOKENS)
            await refused_requests(market, tessera, manifest.hex)

        # The client gets the whole model's greedy tokens, though one stage lied on the way.
        assert [s.output["token_ids"] for s in result.shards] == expected
        assert result.receipt.status == "closed"
        for request in result.shards:
            table = request.output["stages"]
            assert [row["layers"] for row in table] == ["0-1", "2-3", "4-5"]
            assert all(row["provider"] != str(market.participant("liar").keypair.pubkey()) for row in table)
            assert request.output["bytes_per_token_per_hop"] == 64 * 4
        # Every stage was checked (sampling at 100%); the lie was judged by the referee, the layer named.
        verifications = sorted(row["verification"] for r in result.shards for row in r.output["stages"])
        assert verifications.count("referee") == len(PROMPTS) and set(verifications) == {"checked", "referee"}
        assert any(row.get("divergent_layer") == 3 for r in result.shards for row in r.output["stages"])

        def account(name):
            return market.chain.fetch(ProviderAccount, provider_address(market.address, market.participant(name).keypair.pubkey())[0])

        liar = await account("liar")
        assert liar.shards_slashed >= 1 and liar.stake < market.provider_stake and liar.locked_stake == 0
        for name, _ in stages:
            if name != "liar":
                honest = await account(name)
                assert honest.shards_slashed == 0 and honest.locked_stake == 0 and honest.stake == market.provider_stake
        served = [await account(name) for name in ("first", "last", "check-first", "check-last")]
        assert all(a.shards_served >= 1 for a in served)  # each stage and each check is paid like a shard
        assert await market.chain.all(JobAccount, market.address) == []  # the job closed: nothing stays locked
        # Anyone holding the span can judge the slash again from the chain and the published evidence.
        audits = await audit_job(result.job, market.aggregator.url, market.localnet.url, [], store)
        liar_provider = provider_address(market.address, market.participant("liar").keypair.pubkey())[0]
        assert audits and {a.slash.provider for a in audits} == {liar_provider}
        assert all(a.finding is Finding.UPHELD for a in audits), audits
        liar_owner = market.participant("liar").keypair.pubkey()
        async with aiohttp.ClientSession() as http:  # only disputed stages' evidence stays published
            disputed = {r.index * 3 + 1 for r in result.shards}
            for shard in range(3 * len(PROMPTS)):
                url = f"{market.aggregator.url}/v1/jobs/{result.job}/shards/{shard}/evidence/{liar_owner}"
                async with http.get(url) as response:
                    assert response.status == (200 if shard in disputed else 404)
        fees = await market.fees_paid() - fees_before
        assert await market.lamports() + fees == lamports_before  # every lamport accounted for
