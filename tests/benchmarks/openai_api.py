"""One chat stream through the OpenAI API (the unmodified `openai` package, paid by voucher) ÷ plain `transformers`,
SmolLM2-135M-Instruct, the same questions, side by side in one run.

Time to first token: for plain `transformers`, the prompt's prefill and one decoded token (`generate` with
max_new_tokens=1); through the API, from the request (402 and the paid retry included) to the first chunk carrying
content. Tokens/s: completion tokens over the whole request, each side. One provider process on THREADS threads,
`generate` on as many; ROUNDS questions, the medians.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MODEL = "smollm2-135m-instruct"
THREADS, NEW_TOKENS, ROUNDS = 2, 32, 10  # ten: a few milliseconds of this machine's noise moved five's median
QUESTIONS = ["What is Solana?", "Describe the sea in one sentence.", "Give one fact about bread.",
             "Why do people like chess?", "What is a library?", "Name a color of the sky.", "What do bees make?",
             "How does rain form?", "What is a prime number?", "Say hello in French."]


@dataclass(frozen=True)
class ApiBench:
    plain_first_s: float
    api_first_s: float  # each request claimed (a job opened on chain) before it is served
    plain_tokens_s: float
    api_tokens_s: float
    epoch_first_s: float  # served at once in an epoch, claimed with the others when it ends
    epoch_tokens_s: float


def _plain(questions: list[str]) -> tuple[list[float], list[float]]:
    import torch

    from provider.models import load_model

    torch.set_num_threads(THREADS)
    lm = load_model(MODEL)
    firsts, rates = [], []
    for question in questions:
        prompt = lm.tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                                  add_generation_prompt=True)
        encoded = lm.tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            start = time.perf_counter()
            lm.model.generate(**encoded, max_new_tokens=1, do_sample=False)
            firsts.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = lm.model.generate(**encoded, max_new_tokens=NEW_TOKENS, do_sample=False)
            rates.append((out.shape[1] - encoded["input_ids"].shape[1]) / (time.perf_counter() - start))
    return firsts, rates


async def _api(workdir: Path, questions: list[str], epoch_seconds: float = 0.0) -> tuple[list[float], list[float]]:
    import openai
    from solana.constants import LAMPORTS_PER_SOL

    from client.local_market import LocalMarket

    firsts, rates = [], []
    async with LocalMarket(workdir, models=[MODEL], providers=1, threads_per_provider=THREADS, capacity=2,
                           epoch_seconds=epoch_seconds) as market:
        agent = await market.fund("agent", 5 * LAMPORTS_PER_SOL)
        async with market.client(agent, timeout=600) as tessera:
            await tessera.open_channel(LAMPORTS_PER_SOL, withdraw_delay=3_600)
            ai = openai.AsyncOpenAI(base_url=market.aggregator.url + "/v1", api_key="unused",
                                    http_client=tessera.async_http_client())
            await ai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "warm up"}], max_tokens=2)
            for question in questions:
                start, first, tokens = time.perf_counter(), None, 0
                stream = await ai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                                          max_tokens=NEW_TOKENS, temperature=0, stream=True,
                                                          stream_options={"include_usage": True})
                async for chunk in stream:
                    if first is None and chunk.choices and chunk.choices[0].delta.content:
                        first = time.perf_counter() - start
                    if chunk.usage:
                        tokens = chunk.usage.completion_tokens
                firsts.append(first)
                rates.append(tokens / (time.perf_counter() - start))
            await ai.close()
    return firsts, rates


def measure() -> ApiBench:
    questions = QUESTIONS[:ROUNDS]
    plain_first, plain_rate = _plain(questions)
    with tempfile.TemporaryDirectory() as directory:
        api_first, api_rate = asyncio.run(_api(Path(directory) / "market", questions))
        epoch_first, epoch_rate = asyncio.run(_api(Path(directory) / "epoch-market", questions, epoch_seconds=60))
    median = statistics.median
    return ApiBench(median(plain_first), median(api_first), median(plain_rate), median(api_rate), median(epoch_first),
                    median(epoch_rate))


def markdown(result: ApiBench) -> str:
    return "\n".join([
        "## One chat stream through the OpenAI API ÷ plain transformers (SmolLM2-135M-Instruct)",
        "",
        f"{ROUNDS} questions, greedy, up to {NEW_TOKENS} new tokens; the unmodified `openai` package streaming, "
        f"paid by voucher (402 and the paid retry included); one provider process on {THREADS} threads vs "
        f"`generate` on {THREADS}; medians.",
        "",
        "| | plain transformers | API, claimed first | ÷ plain | API, in an epoch | ÷ plain | goal |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| time to first token (s) | {result.plain_first_s:.3f} | {result.api_first_s:.3f} | "
        f"{result.api_first_s / result.plain_first_s:.2f} | {result.epoch_first_s:.3f} | "
        f"{result.epoch_first_s / result.plain_first_s:.2f} | ≤ 1.5 |",
        f"| tokens/s, whole request | {result.plain_tokens_s:.1f} | {result.api_tokens_s:.1f} | "
        f"{result.api_tokens_s / result.plain_tokens_s:.2f} | {result.epoch_tokens_s:.1f} | "
        f"{result.epoch_tokens_s / result.plain_tokens_s:.2f} | ≥ 0.8 |",
        "",
        "Claimed first (`--epoch-seconds 0`): each request's claim opens its job on chain before it is served. In an "
        "epoch (`--epoch-seconds 60`; the aggregator's default is 30): served at once, claimed with the epoch's other "
        "requests after.",
        "",
        "The answer streams as the provider generates it (its node posts a task's first tokens at once, then what grew every 50 ms; verified after). "
        "What the first token still waits for, beyond the prefill and one token: the 402 and the paid retry, the "
        "voucher's claim on chain (which opens the job; not in an epoch), the provider's claim of the task, and the first "
        "progress post.",
        "",
    ])


if __name__ == "__main__":
    print(markdown(measure()), file=sys.stdout)
