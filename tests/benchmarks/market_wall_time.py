"""The whole market's wall time for N prompts ÷ plain local `transformers` on the same prompts and thread budget.

Same run, same model (a seeded GPT-2 of GPT-2 small's shape, built locally): plain
`model.generate` on 2 threads, versus a local market (localnet, aggregator,
two provider processes with 1 thread each, every part a separate process)
paid by the SDK with the market's sampling rate at 10%. Timed from the quote
to the closed job with all outputs. A second baseline runs plain `generate`
split as the market splits the work (two 1-thread processes side by side),
which separates what the hardware charges for splitting from what the market
adds. All are run ROUNDS times, interleaved: each round's ratios pair runs made
moments apart, and the figures are the medians over the rounds (not the best
run), so a burst of load from elsewhere on this shared machine decides nothing.
Also: on-chain transactions and lamports per request.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROMPTS = 64
NEW_TOKENS = 64
SAMPLING_BPS = 1_000
ROUNDS = 3
LAYERS, WIDTH = 12, 768  # GPT-2 small's shape: compute, not the market's fixed costs, should dominate


@dataclass(frozen=True)
class Round:
    plain_s: float
    split_s: float  # plain generate as two 1-thread processes, half the prompts each
    market_s: float  # quote to the closed job, receipt in hand
    outputs_s: float  # quote to every output in the client's hands (streamed as shards are verified)


@dataclass(frozen=True)
class WallTime:
    rounds: list[Round]
    transactions: int
    paid: int
    verification: dict[str, int]

    def median(self, seconds) -> float:
        return statistics.median(seconds(r) for r in self.rounds)

    @property
    def ratio(self) -> float:
        """The whole market ÷ plain transformers: the median over the rounds of each round's ratio."""
        return self.median(lambda r: r.market_s / r.plain_s)


async def _market(model_dir: Path, workdir: Path, digest: bytes, prompts: list[str]) -> tuple[float, float, int, int, dict]:
    from solana.constants import LAMPORTS_PER_SOL

    from client.local_market import LocalMarket
    from marketplace.chain.program import PROGRAM_ID

    async with LocalMarket(workdir, models=[model_dir], providers=2, sampling_rate_bps=SAMPLING_BPS,
                           threads_per_provider=1, capacity=PROMPTS) as market:
        agent = await market.fund("agent", 10 * LAMPORTS_PER_SOL)
        async with market.client(agent, timeout=600) as tessera:
            await tessera.generate(["warm up", "both nodes"], model=digest, max_new_tokens=2)  # every node warm, timed once
            before = len((await market.chain.rpc.get_signatures_for_address(PROGRAM_ID, limit=1000)).value)
            start = time.perf_counter()
            job = await tessera.submit("generate", [{"prompt": p} for p in prompts], digest,
                                       {"max_new_tokens": NEW_TOKENS, "temperature": 0.0, "top_p": 1.0, "seed": None})
            async for _ in tessera.stream(job):  # outputs as each shard is verified
                pass
            outputs_s = time.perf_counter() - start
            result = await tessera.wait(job)
            elapsed = time.perf_counter() - start
            after = len((await market.chain.rpc.get_signatures_for_address(PROGRAM_ID, limit=1000)).value)
    return elapsed, outputs_s, after - before, result.receipt.paid, result.receipt.verification


def _plain_generate(model_dir: Path, prompts: list[str], threads: int):
    """`model.generate` on `prompts` with `threads`, the model loaded now; returns the timed call."""
    import torch

    from provider.models import load_model

    torch.set_num_threads(threads)
    lm = load_model(model_dir)
    tokenizer = lm.tokenizer
    tokenizer.padding_side = "left"

    def run() -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            encoded = tokenizer(prompts, return_tensors="pt", padding=True)
            lm.model.generate(**encoded, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.eos_token_id)
            return time.perf_counter() - start

    return run


def _plain_split(model_dir: Path, prompts: list[str]) -> float:
    """Plain `generate` split as the market splits it: two processes × 1 thread, half the prompts each, side by side."""
    halves = [prompts[:len(prompts) // 2], prompts[len(prompts) // 2:]]
    workers = [subprocess.Popen([sys.executable, "-m", "tests.benchmarks.market_wall_time", "--share", str(model_dir)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in halves]
    for worker, half in zip(workers, halves):
        worker.stdin.write(json.dumps(half) + "\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"  # loaded, warm
    start = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.stdout.readline().strip() == "done"
    elapsed = time.perf_counter() - start
    for worker in workers:
        worker.wait(timeout=60)
    return elapsed


def _share(model_dir: Path) -> None:
    """One side of the split baseline: reads its prompts, says ready, generates on 'go', says done."""
    prompts = json.loads(sys.stdin.readline())
    run = _plain_generate(model_dir, prompts, threads=1)
    print("ready", flush=True)
    sys.stdin.readline()
    run()
    print("done", flush=True)


def measure() -> WallTime:
    from provider.model_builder import build_causal_lm
    from provider.models import load_model

    prompts = [f"Request {i}: summarise why inference is sold as throughput " + "and shards " * (i % 4) for i in range(PROMPTS)]
    with tempfile.TemporaryDirectory() as directory:
        model_dir = build_causal_lm(Path(directory) / "gpt2", "gpt2", seed=3, layers=LAYERS, width=WIDTH, heads=12)
        digest = load_model(model_dir).digest
        plain = _plain_generate(model_dir, prompts, threads=2)
        rounds = []
        for round_ in range(ROUNDS):
            plain_s, split_s = plain(), _plain_split(model_dir, prompts)
            market_s, outputs_s, transactions, paid, verification = asyncio.run(
                _market(model_dir, Path(directory) / f"market-{round_}", digest, prompts))
            rounds.append(Round(plain_s, split_s, market_s, outputs_s))
    return WallTime(rounds, transactions, paid, verification)


def markdown(result: WallTime) -> str:
    m = result.median
    return "\n".join([
        "## The whole market ÷ plain transformers (same prompts, same thread budget, same run)",
        "",
        f"{PROMPTS} prompts × {NEW_TOKENS} new tokens, greedy, a seeded GPT-2 ({LAYERS} layers × {WIDTH}); market "
        f"sampling rate {SAMPLING_BPS / 100:g}%; two provider processes × 1 thread vs `generate` on 2 threads. "
        f"Each is run {ROUNDS} times, interleaved; every figure is the median over the rounds (ratios are taken "
        "within a round, then the median of those).",
        "",
        "| | seconds | ÷ plain transformers | ÷ plain, split as the market splits it | goal |",
        "|---|---:|---:|---:|---:|",
        f"| plain transformers `generate`, one process × 2 threads | {m(lambda r: r.plain_s):.2f} | 1.00 | | |",
        f"| plain transformers `generate`, two processes × 1 thread, half the prompts each | {m(lambda r: r.split_s):.2f} | "
        f"{m(lambda r: r.split_s / r.plain_s):.2f} | 1.00 | |",
        f"| market: every output in the client's hands (streamed as verified) | {m(lambda r: r.outputs_s):.2f} | "
        f"{m(lambda r: r.outputs_s / r.plain_s):.2f} | {m(lambda r: r.outputs_s / r.split_s):.2f} | ≤ 1.15 |",
        f"| market: job settled and closed, receipt in hand | {m(lambda r: r.market_s):.2f} | {result.ratio:.2f} | "
        f"{m(lambda r: r.market_s / r.split_s):.2f} | ≤ 1.15 |",
        "",
        "Each round's ratio (market ÷ plain): " + ", ".join(f"{r.market_s / r.plain_s:.2f}" for r in result.rounds) + ".",
        "",
        "Both market clocks start at the quote. The split row runs plain `generate` the way the market runs its "
        "providers (two 1-thread processes, half the prompts each), so the last column is what the market itself "
        "adds: the replica checks, which can only start once the primaries are done; near-ties decided in float64; "
        "settlement and close_job; and the market's own processes (localnet, aggregator, the client) on the same "
        "two cores.",
        "",
        f"On chain: {result.transactions} transactions for the job ({result.transactions / PROMPTS:.2f} per request: "
        "create_job, one submit_results per provider round, settle, close_job); the client paid "
        f"{result.paid:,} lamports ({result.paid // PROMPTS:,} per request, work + market fee + its transaction fees). "
        f"Verification: {', '.join(f'{n} {how}' for how, n in sorted(result.verification.items()))}.",
        "",
    ])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--share"]:
        _share(Path(sys.argv[2]))
    else:
        print(markdown(measure()))
