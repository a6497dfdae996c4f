"""`tessera demo`: the whole market on this machine, each part its own process, and an agent paying per request.

localnet (the program in the Solana runtime, over JSON-RPC) -> a market -> the
aggregator -> three staked provider nodes serving a small model built here ->
an agent that pays for a batch of prompts with sampling on. It prints the
results, what they cost, the transactions, how each shard was verified, and
checks that every lamport is accounted for; then stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from solana.constants import LAMPORTS_PER_SOL

from client.formatting import short, sol
from client.local_market import LocalMarket
from provider.model_builder import build_causal_lm
from provider.models import model_digest

PROMPTS = [
    "Agents pay per request for", "A provider stakes SOL and", "The aggregator checks a shard by", "Escrow is released when",
    "Shards run in parallel on", "A lie costs the provider", "The seed is revealed after", "Inference as throughput means",
]


class DemoError(Exception):
    """The demo could not complete; the message says where."""


async def _demo(console: Console, workdir: Path) -> None:
    started = time.monotonic()
    with console.status("building a small GPT-2 model (seeded, offline)"):
        model_dir = build_causal_lm(workdir / "tiny-gpt2", "gpt2", seed=7, layers=2, width=64)
        digest = model_digest(model_dir)
    console.print(f"model [bold]{model_dir.name}[/bold] digest {digest.hex()[:16]}…")
    async with contextlib.AsyncExitStack() as stack:
        with console.status("starting localnet, the aggregator and three provider nodes"):
            market = await stack.enter_async_context(
                LocalMarket(workdir / "market", models=[model_dir], providers=3, sampling_rate_bps=3_000))
        console.print(f"localnet {market.localnet.url} · aggregator {market.aggregator.url} · market {market.address}")
        agent = await market.fund("agent", 10 * LAMPORTS_PER_SOL)
        fees_before, lamports_before = await market.fees_paid(), await market.lamports()
        with console.status(f"the agent pays for {len(PROMPTS)} prompts (temperature 0.8, seeded)"):
            async with market.client(agent, timeout=110) as tessera:
                result = await tessera.generate(PROMPTS, model=digest, max_new_tokens=12, temperature=0.8, top_p=0.95)
        results = Table(title="Results", title_justify="left")
        for column in ("#", "prompt", "completion", "verified", "provider"):
            results.add_column(column)
        for prompt, shard in zip(PROMPTS, result.shards):
            results.add_row(str(shard.index), prompt, repr(shard.text), shard.verification,
                            ", ".join(short(p) for p in shard.providers))
        console.print(results)

        receipt = result.receipt
        costs = Table(title="Costs and transactions", show_header=False, title_justify="left")
        costs.add_column(style="bold")
        costs.add_column()
        costs.add_row("escrowed by the agent", sol(receipt.escrowed))
        costs.add_row("returned at close (unspent escrow + rent)", sol(receipt.refunded))
        costs.add_row("paid in all (work, market fee, tx fees)", f"{sol(receipt.paid)} = {receipt.paid:,} lamports")
        costs.add_row("per request", f"{receipt.paid // len(PROMPTS):,} lamports")
        for what, signature in receipt.signatures.items():
            costs.add_row(what, signature)
        for settlement in receipt.settlements:
            costs.add_row(f"settled {short(settlement['provider'])}", f"{settlement['verdict']} shards {settlement['accepted']}")
        costs.add_row("sampling seed (revealed)", (receipt.seed or "—")[:16] + "…")
        console.print(costs)
        outcome = ", ".join(f"{count} {how}" for how, count in sorted(receipt.verification.items()))
        console.print(f"verification: {outcome}")

        fees = await market.fees_paid() - fees_before
        lamports_after = await market.lamports()
        conserved = lamports_after + fees == lamports_before
        console.print(f"lamports: {lamports_before:,} before = {lamports_after:,} after + {fees:,} transaction fees — "
                      + ("[green]conserved[/green]" if conserved else "[red]NOT conserved[/red]"))
        if not conserved:
            raise DemoError("lamports were not conserved")
        console.print("stopping every process")
    console.print(f"done in {time.monotonic() - started:.0f} s")


def run_demo(console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="tessera-demo-") as workdir:
        try:
            asyncio.run(_demo(console, Path(workdir)))
        except DemoError:
            raise
        except Exception as exc:  # a part failed to start or answer: say which, with its log
            raise DemoError(f"{type(exc).__name__}: {exc}") from exc
