"""Verification overhead: provider compute with sampling ÷ without, for generation shards.

A sampled generation shard costs one more *check*: a single teacher-forced
forward pass over prompt + claimed tokens on another provider, instead of a
second generation. Both are the provider node's own code (provider.generation),
timed on the same model, prompts and thread count (a seeded GPT-2 built
locally and loaded through `from_pretrained`);
overhead = 1 + p × (check time ÷ generation time). Goal: ≤ 1 + p/3 (recomputing
costs 1 + p).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROMPTS = 8
NEW_TOKENS = 48
RATES = (0.1, 0.3)


@dataclass(frozen=True)
class Overhead:
    generate_s: float
    check_s: float

    @property
    def ratio(self) -> float:
        return self.check_s / self.generate_s

    def at(self, p: float) -> float:
        return 1 + p * self.ratio


def measure() -> Overhead:
    import torch

    from marketplace.digests import DecodingParams, input_digest
    from marketplace.verification import CheckOutcome, check_generation
    from provider.generation import CheckRequest, GenerationRequest, check_batch, generate_batch
    from provider.model_builder import build_causal_lm
    from provider.models import load_model

    torch.set_num_threads(2)
    params = DecodingParams(NEW_TOKENS)
    prompts = [f"Shard {i}: the provider node generates, a replica checks " + "tokens " * (i % 3) for i in range(PROMPTS)]
    with tempfile.TemporaryDirectory() as directory:
        lm = load_model(build_causal_lm(Path(directory) / "gpt2", "gpt2", seed=0, layers=4, width=256, heads=4))
    requests = [GenerationRequest(p, params, input_digest({"prompt": p})) for p in prompts]
    generate_batch(lm, requests[:1])  # warm up
    start = time.perf_counter()
    generated = generate_batch(lm, requests)
    generate_s = time.perf_counter() - start
    checks = [CheckRequest(r.prompt, params, r.input_digest, g.token_ids) for r, g in zip(requests, generated)]
    start = time.perf_counter()
    verdicts = check_batch(lm, checks)
    check_s = time.perf_counter() - start
    if any(check_generation(g.token_ids, v).outcome is not CheckOutcome.CONSISTENT for g, v in zip(generated, verdicts)):
        raise RuntimeError("the teacher-forced check disagrees with the node's own generation")
    return Overhead(generate_s, check_s)


def markdown(result: Overhead) -> str:
    lines = [
        "## Verification overhead (generation shards)",
        "",
        f"{PROMPTS} prompts × {NEW_TOKENS} new tokens, greedy, seeded GPT-2 (4 layers × 256) on 2 threads, the node's "
        "batched generation and batched teacher-forced check, same run.",
        "",
        f"Generation: {result.generate_s:.3f} s; teacher-forced check of the same tokens: {result.check_s:.3f} s "
        f"(check ÷ generation = {result.ratio:.3f}).",
        "",
        "| sampling rate p | provider compute ÷ compute without sampling | goal (≤ 1 + p/3) | recompute baseline (1 + p) |",
        "|---:|---:|---:|---:|",
    ]
    for p in RATES:
        lines.append(f"| {p} | {result.at(p):.3f} | {1 + p / 3:.3f} | {1 + p:.2f} |")
    return "\n".join(lines) + "\n"
