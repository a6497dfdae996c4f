"""Progress reports (a stream's answer as it is generated): taken from the provider its primary run was handed to,
refused from anyone else, and no longer shown once the run's results are in."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from marketplace.messages import sign_message
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, prompt_inputs, running_market
from tests.integration.scripted import Refused, ScriptedProvider

pytestmark = pytest.mark.slow


async def test_progress_is_taken_from_the_runs_provider_only_and_only_while_it_runs(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market:
        runner = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await runner.join(3 * SOL, "http://127.0.0.1:7301")
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        job = await market.submit_job(client, prompt_inputs(1), {"max_new_tokens": 2})
        [task] = (await runner.post("/v1/work", sign_message(runner.keypair, "claim", {"max_tasks": 4, "wait": 5})))["tasks"]
        assert task["role"] == "primary"
        stranger = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await stranger.join(3 * SOL, "http://127.0.0.1:7302")

        def report(provider: ScriptedProvider, tokens: list[int]):
            partial = {"task": task["task"], "token_ids": tokens, "text": "so far"}
            return sign_message(provider.keypair, "progress", {"partials": [partial]}, job=job)

        with pytest.raises(Refused) as refused:
            await stranger.post(f"/v1/jobs/{job}/progress", report(stranger, [1]))
        assert refused.value.status == 403 and "task_not_yours" in str(refused.value)
        assert (await runner.post(f"/v1/jobs/{job}/progress", report(runner, [1])))["taken"] == [task["task"]]

        digest, output = runner.run_task(task)
        item = {"task": task["task"], "digest": digest.hex(), "output": output}
        await runner.post(f"/v1/jobs/{job}/results", sign_message(runner.keypair, "results", {"results": [item]}, job=job))
        assert (await runner.post(f"/v1/jobs/{job}/progress", report(runner, [1, 2])))["taken"] == []
