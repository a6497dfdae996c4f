"""SmolLM2-135M-Instruct split over three stage processes (10 layers each) on loopback HTTP, driven by this
process, against the whole model in one process (`model.generate`), on the same chat prompts.

- Speed: PROMPTS chat questions × ≤ NEW_TOKENS greedy tokens; the pipeline (three stage processes at one thread
  each, OMP_WAIT_POLICY=PASSIVE, the driver's head at one thread) vs `generate` at one thread. Only one of them
  computes at any moment either way. ROUNDS interleaved rounds; the median ratio of tokens/s.
- Equality: how many answers are token for token the single-process ones.
- Wire: bytes per generated token per hop (floor: hidden size × 4 bytes), measured from what was sent.
- Memory: parameters resident in one stage ÷ in the whole model.
- Checking: recomputing one stage over a whole answer in one prefill (what a second holder does) ÷ that stage's
  share of generating it (the pipeline's time ÷ 3).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROMPTS, NEW_TOKENS, ROUNDS = 8, 48, 3
QUESTIONS = ["What is the capital of France?", "Name three primary colors.", "Describe the sea in one sentence.",
             "Give one fact about the moon.", "Why do people like coffee?", "What is a library?",
             "Write a short poem about rain.", "What does a blockchain validator do?"]


@dataclass(frozen=True)
class PipelineBench:
    pipeline_tokens_s: list[float]
    plain_tokens_s: list[float]
    equal: int
    answers: int
    bytes_per_token_per_hop: float
    hidden_size: int
    stage_parameters: int
    whole_parameters: int
    stage_resident: int  # bytes, the largest stage process
    whole_resident: int  # bytes, a process that loaded the whole model and generated with it
    check_ratio: float

    @property
    def ratios(self) -> list[float]:
        return [p / q for p, q in zip(self.pipeline_tokens_s, self.plain_tokens_s)]


def measure() -> PipelineBench:
    import torch

    from marketplace.keys import write_keypair
    from marketplace.pipeline.cutting import cut_model
    from marketplace.pipeline.store import FragmentStore
    from provider.models import load_model
    from provider.pipeline.spans import load_head, load_span

    torch.set_num_threads(1)
    lm = load_model("smollm2-135m-instruct")
    whole_resident = _whole_model_resident()
    with tempfile.TemporaryDirectory(prefix="tessera-pipeline-bench-") as scratch:
        root = Path(scratch)
        store = FragmentStore(root / "fragments")
        manifest = cut_model(lm.directory, store, 3, name="smollm2-135m-instruct")
        head = load_head(store, manifest)
        stage_parameters = load_span(store, manifest, manifest.spans[0].span).parameters()
        keys = [root / f"stage-{i}.json" for i in range(3)]
        for key in keys:
            write_keypair(key)
        return asyncio.run(_measure(lm, head, store, manifest, keys, stage_parameters, whole_resident))


WHOLE_MODEL_PROCESS = """
import os, torch
from provider.models import load_model
torch.set_num_threads(1)
lm = load_model("smollm2-135m-instruct")
lm.model.generate(torch.tensor([lm.tokenizer("Hello")["input_ids"]]), max_new_tokens=8, do_sample=False)
print(int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
"""


def _whole_model_resident() -> int:
    """Resident bytes of a fresh process that loaded the whole model and generated (every weight touched)."""
    out = subprocess.run([sys.executable, "-c", WHOLE_MODEL_PROCESS], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


async def _measure(lm, head, store, manifest, keys, stage_parameters, whole_resident) -> PipelineBench:
    import aiohttp
    import torch

    from marketplace.digests import DecodingParams, input_digest
    from provider.pipeline.driver import PipelineDriver, StageRoute
    from provider.pipeline.process import StageProcess

    prompts = [lm.tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in QUESTIONS[:PROMPTS]]
    ids = [lm.tokenizer(p)["input_ids"] for p in prompts]
    stages = [StageProcess(key, store.root, manifest.hex, str(f.span), threads=1) for key, f in zip(keys, manifest.spans)]
    await asyncio.gather(*(s.start() for s in stages))
    try:
        async with aiohttp.ClientSession() as http:
            driver = PipelineDriver(head, [StageRoute(f.span, (s.url,)) for f, s in zip(manifest.spans, stages)], http)
            pipeline_rates, plain_rates = [], []
            for _ in range(ROUNDS):
                started, tokens, answers = time.perf_counter(), 0, []
                for prompt, prompt_ids in zip(prompts, ids):
                    answer = await driver.generate(prompt_ids, DecodingParams(NEW_TOKENS), input_digest(prompt))
                    tokens += len(answer.token_ids)
                    answers.append(answer)
                pipeline_s = time.perf_counter() - started
                pipeline_rates.append(tokens / pipeline_s)
                started, plain_tokens, plain = time.perf_counter(), 0, []
                for prompt_ids in ids:
                    out = lm.model.generate(torch.tensor([prompt_ids]), max_new_tokens=NEW_TOKENS, do_sample=False)[0, len(prompt_ids):]
                    plain.append(out.tolist())
                    plain_tokens += len(plain[-1])
                plain_rates.append(plain_tokens / (time.perf_counter() - started))
            equal = sum(a.token_ids == p for a, p in zip(answers, plain))
            hop = statistics.mean(a.bytes_per_token_per_hop() for a in answers)
            # A second holder's check of the middle stage over the last answer, against that stage's share.
            record = answers[-1].spans[1]
            started = time.perf_counter()
            async with http.post(f"{stages[1].url}/v1/recompute", data=record.input_bytes(),
                                 headers={"Content-Type": "application/octet-stream"}) as response:
                await response.read()
            check_s = time.perf_counter() - started
            started = time.perf_counter()
            await driver.generate(ids[-1], DecodingParams(NEW_TOKENS), input_digest(prompts[-1]))
            stage_share = (time.perf_counter() - started) / 3
            resident = []
            for stage in stages:
                async with http.get(f"{stage.url}/health") as response:
                    resident.append((await response.json())["resident_bytes"])
    finally:
        for stage in stages:
            stage.kill()
    return PipelineBench(pipeline_rates, plain_rates, equal, len(answers), hop, manifest.hidden_size, stage_parameters,
                         sum(p.numel() for p in lm.model.parameters()), max(resident), whole_resident, check_s / stage_share)


def markdown(result: PipelineBench) -> str:
    ratio = statistics.median(result.ratios)
    return "\n".join([
        "## One model across three providers (SmolLM2-135M-Instruct, 10 layers per stage)",
        "",
        "Three stage processes on loopback HTTP, driven by the benchmark process (which holds the embeddings and "
        "head), against `model.generate` in one process; one computing thread at a time on both sides.",
        "",
        "| measure | pipeline | whole model | pipeline ÷ whole | goal |",
        "|---|---:|---:|---:|---:|",
        f"| decode, {PROMPTS} chat prompts × ≤ {NEW_TOKENS} tokens (tokens/s, median of {ROUNDS} interleaved) | "
        f"{statistics.median(result.pipeline_tokens_s):,.1f} | {statistics.median(result.plain_tokens_s):,.1f} | "
        f"{ratio:.2f} (spread {min(result.ratios):.2f}–{max(result.ratios):.2f}) | ≥ 0.9 (a prototype's 0.97) |",
        f"| answers token for token the same | {result.equal} of {result.answers} | — | — | all |",
        f"| bytes per token per hop | {result.bytes_per_token_per_hop:,.0f} | — | floor {result.hidden_size * 4:,} "
        f"(hidden × 4) | the floor |",
        f"| parameters resident in one stage | {result.stage_parameters:,} | {result.whole_parameters:,} | "
        f"{result.stage_parameters / result.whole_parameters:.2f} | ≈ 1/3 of the layers |",
        f"| memory resident (RSS) of a stage process, after serving | {result.stage_resident / 1e6:,.0f} MB | "
        f"{result.whole_resident / 1e6:,.0f} MB (a process that ran it whole) | "
        f"{result.stage_resident / result.whole_resident:.2f} | < 1 |",
        f"| check: one stage recomputed in one prefill ÷ its share of generating | — | — | {result.check_ratio:.2f} | < 1 |",
        "",
    ])


if __name__ == "__main__":
    print(markdown(measure()))
