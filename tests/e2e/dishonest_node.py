"""A provider node that lies: `tessera provider run` whose generations are altered after the fact.

It commits digests of its altered tokens, so only a replica's check can catch
it. Run as `python -m tests.e2e.dishonest_node run ...` (the arguments of `tessera provider`).
"""

from __future__ import annotations

from marketplace.digests import generation_digest
from provider import executor


class LyingExecutor(executor.Executor):
    def _generate(self, lm, batch, progress=None):
        results = super()._generate(lm, batch, progress)
        lies = []
        for task, result in zip(batch, results):
            tokens = [(t + 1) % 100 for t in result.output["token_ids"]]
            digest = generation_digest(lm.digest, task.input_digest, task.params, tokens).hex()
            lies.append(executor.Result(result.task, result.job, result.shard, result.role, digest,
                                        {**result.output, "token_ids": tokens}))
        return lies


executor.Executor = LyingExecutor
import provider.runner  # noqa: E402 - it must see the lying executor

provider.runner.Executor = LyingExecutor

if __name__ == "__main__":
    from provider.cli import provider

    provider(prog_name="provider")
