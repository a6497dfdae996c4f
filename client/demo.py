"""`tessera demo`: the whole market on this machine, each part its own process, and an agent paying per request.

localnet (the program in the Solana runtime, over JSON-RPC) -> a market -> the
aggregator -> three staked provider nodes serving SmolLM2-135M-Instruct (a real
pretrained chat model, from its wheel's GGUF) -> an agent that pays for a handful
of questions as one chat job. It prints the answers, what they cost, the
transactions, how each was verified, and checks that every lamport is accounted
for; then stops everything.
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
from marketplace.vocabulary import Kind
from provider.catalog import resolve
from provider.gguf import converted
from provider.models import model_digest

MODEL = "smollm2-135m-instruct"
QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "What is 12 times 12?",
    "Give me one tip for writing clear code.",
    "What does a blockchain validator do, in one sentence?",
    "Translate 'good morning' into Spanish.",
]
MAX_NEW_TOKENS = 48


class DemoError(Exception):
    """The demo could not complete; the message says where."""


async def _demo(console: Console, workdir: Path) -> None:
    started = time.monotonic()
    with console.status(f"preparing {MODEL} (dequantized once from its GGUF, then cached)"):
        model_dir = converted(resolve(MODEL))
        digest = model_digest(model_dir)
    console.print(f"model [bold]{MODEL}[/bold] digest {digest.hex()[:16]}…")
    async with contextlib.AsyncExitStack() as stack:
        with console.status("starting localnet, the aggregator and three provider nodes"):
            market = await stack.enter_async_context(
                LocalMarket(workdir / "market", models=[model_dir], providers=3, sampling_rate_bps=3_000))
        console.print(f"localnet {market.localnet.url} · aggregator {market.aggregator.url} · market {market.address}")
        agent = await market.fund("agent", 10 * LAMPORTS_PER_SOL)
        fees_before, lamports_before = await market.fees_paid(), await market.lamports()
        conversations = [{"messages": [{"role": "user", "content": q}]} for q in QUESTIONS]
        with console.status(f"the agent pays for {len(QUESTIONS)} questions, one chat job"):
            async with market.client(agent, timeout=110) as tessera:
                result = await tessera.run(Kind.CHAT, conversations, digest, {"max_new_tokens": MAX_NEW_TOKENS})
        results = Table(title="Results", title_justify="left")
        for column in ("#", "question", "answer", "verified", "provider"):
            results.add_column(column)
        for question, shard in zip(QUESTIONS, result.shards):
            results.add_row(str(shard.index), question, shard.text, shard.verification,
                            ", ".join(short(p) for p in shard.providers))
        console.print(results)

        receipt = result.receipt
        costs = Table(title="Costs and transactions", show_header=False, title_justify="left")
        costs.add_column(style="bold")
        costs.add_column()
        costs.add_row("escrowed by the agent", sol(receipt.escrowed))
        costs.add_row("returned at close (unspent escrow + rent)", sol(receipt.refunded))
        costs.add_row("paid in all (work, market fee, tx fees)", f"{sol(receipt.paid)} = {receipt.paid:,} lamports")
        costs.add_row("per question", f"{receipt.paid // len(QUESTIONS):,} lamports")
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
