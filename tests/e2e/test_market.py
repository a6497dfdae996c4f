"""The whole market in separate processes: localnet, aggregator, three honest providers and a liar, several clients."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from solana.constants import LAMPORTS_PER_SOL

from client.audit import Finding, audit_job
from client.local_market import LocalMarket, python_module
from marketplace.chain import JobAccount, ProviderAccount, provider_address
from marketplace.digests import DecodingParams, input_digest
from provider.generation import GenerationRequest, generate_batch
from tests.cli import TESSERA

pytestmark = pytest.mark.slow
PARAMS = {"max_new_tokens": 6, "temperature": 0.7, "top_p": 0.95}


async def test_clients_get_correct_results_and_the_liar_is_slashed(tmp_path, gpt2_dir, gpt2):
    liar = ("liar", python_module("tests.e2e.dishonest_node"))
    async with LocalMarket(tmp_path / "market", models=[gpt2_dir], providers=3, sampling_rate_bps=10_000,
                           extra_nodes=[liar], capacity=4) as market:
        clients = [await market.fund(f"client-{i}", 5 * LAMPORTS_PER_SOL) for i in range(3)]
        fees_before, lamports_before = await market.fees_paid(), await market.lamports()

        async def agent(i, participant):
            prompts = [f"client {i} asks question {q}" for q in range(6)]
            async with market.client(participant, timeout=240) as tessera:
                return prompts, await tessera.generate(prompts, model=gpt2.digest, seed=100 + i, **PARAMS)

        outcomes = await asyncio.gather(*(agent(i, c) for i, c in enumerate(clients)))

        for i, (prompts, result) in enumerate(outcomes):
            params = DecodingParams(seed=100 + i, **PARAMS)
            expected = generate_batch(gpt2, [GenerationRequest(p, params, input_digest({"prompt": p})) for p in prompts])
            assert [s.output["token_ids"] for s in result.shards] == [g.token_ids for g in expected]
            assert result.receipt.status == "closed" and result.receipt.paid > 0
            assert set(result.receipt.verification) <= {"checked", "referee", "unsampled"}  # reruns after a fault

        liar_account = await market.chain.fetch(
            ProviderAccount, provider_address(market.address, market.participant("liar").keypair.pubkey())[0])
        assert liar_account.shards_slashed > 0 and liar_account.stake < market.provider_stake
        for name in ("provider-1", "provider-2", "provider-3"):
            honest = await market.chain.fetch(
                ProviderAccount, provider_address(market.address, market.participant(name).keypair.pubkey())[0])
            assert honest.shards_slashed == 0 and honest.locked_stake == 0

        assert await market.chain.all(JobAccount, market.address) == []  # every job closed

        # Anyone can judge every slash again from the chain's evidence and the published shards.
        audits = [a for _, result in outcomes for a in await audit_job(
            result.receipt.job, market.aggregator.url, market.localnet.url, [gpt2])]
        assert audits and all(a.finding is Finding.UPHELD and a.referee_reproduced for a in audits), audits
        liar_provider = provider_address(market.address, market.participant("liar").keypair.pubkey())[0]
        assert {a.slash.provider for a in audits} == {liar_provider}
        done = await asyncio.to_thread(subprocess.run, [TESSERA, "audit",
                                       outcomes[0][1].receipt.job, "--model", str(gpt2_dir), "--json",
                                       "--rpc", market.localnet.url, "--aggregator", market.aggregator.url],
                                       capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)["slashes"]
        assert all(row["finding"] == "upheld" for row in printed)
        fees = await market.fees_paid() - fees_before
        assert await market.lamports() + fees == lamports_before  # every lamport accounted for
