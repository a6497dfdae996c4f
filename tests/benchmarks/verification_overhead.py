"""Verification overhead: provider compute with sampling ÷ without, for generation shards.

A sampled generation shard costs one more *check*: a single teacher-forced
forward pass over prompt + claimed tokens on another provider, instead of a
second generation. Both are timed on the same model, prompts and thread count
(a seeded GPT-2 built locally and loaded through `from_pretrained`);
overhead = 1 + p × (check time ÷ generation time). Goal: ≤ 1 + p/3 (recomputing
costs 1 + p).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

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
    from transformers import AutoModelForCausalLM, GPT2Config

    torch.manual_seed(0)
    torch.set_num_threads(2)
    config = GPT2Config(n_layer=4, n_head=4, n_embd=256, vocab_size=2048, n_positions=256)
    with tempfile.TemporaryDirectory() as directory:
        AutoModelForCausalLM.from_config(config).save_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory).eval()
    prompts = torch.randint(0, config.vocab_size, (PROMPTS, 32), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model.generate(prompts[:1], max_new_tokens=4, do_sample=False, pad_token_id=0)  # warm up
        start = time.perf_counter()
        generated = model.generate(prompts, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        logits = model(generated).logits[:, prompts.shape[1] - 1:-1]  # the positions that chose each claimed token
        top2 = logits.topk(2, dim=-1)
        claimed = generated[:, prompts.shape[1]:]
        argmax_agrees = (top2.indices[..., 0] == claimed).all().item()
        check_s = time.perf_counter() - start
    if not argmax_agrees:
        raise RuntimeError("teacher-forced argmax disagrees with greedy generation")
    return Overhead(generate_s, check_s)


def markdown(result: Overhead) -> str:
    lines = [
        "## Verification overhead (generation shards)",
        "",
        f"{PROMPTS} prompts × {NEW_TOKENS} new tokens, greedy, seeded GPT-2 (4 layers) on 2 threads, same run.",
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
