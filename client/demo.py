"""`tessera demo`: the whole market on this machine, each part its own process, and an agent paying per request.

localnet (the program in the Solana runtime, over JSON-RPC) -> a market -> the
aggregator -> three staked provider nodes serving SmolLM2-135M-Instruct (a real
pretrained chat model, from its wheel's GGUF) -> an agent that pays for a handful
of questions as one chat job. Then the agent pays per request: it opens a
payment channel once and asks through the OpenAI API (the unmodified `openai`
package), each request paid by a voucher and answered at once in an epoch that
is paid for on chain in one job when it ends. Then the same model cut into
fragments and served as a pipeline: six stage nodes each holding 10 of its 30
layers (none holds the whole model), the aggregator driving it, the agent
asking it questions too. It prints the answers, what they cost, the
transactions, how each was verified, the stage table, and checks that every
lamport is accounted for; then stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import openai
from rich.console import Console
from rich.table import Table
from solana.constants import LAMPORTS_PER_SOL
from solders.pubkey import Pubkey

from client.formatting import short, sol
from client.local_market import LocalMarket
from marketplace import x402
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.store import FragmentStore
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
PIPELINE_QUESTIONS = QUESTIONS[:3]
# Asked through the OpenAI API, a request each; the epoch ends once it holds them all (or after EPOCH_SECONDS).
CHANNEL_QUESTIONS = ["What is Solana, in one sentence?", "Name a planet.", "What is 7 plus 5?"]
CHANNEL_MAX_TOKENS = 32
EPOCH_SECONDS = 20
CHANNEL_DEPOSIT = LAMPORTS_PER_SOL // 10
# Stage nodes: (name, layers). Two hold each span, so a sampled stage is checked by an owner that did not serve it.
STAGES = [("stage-a", "0-9"), ("stage-b", "10-19"), ("stage-c", "20-29"),
          ("stage-d", "0-9"), ("stage-e", "10-19"), ("stage-f", "20-29")]


class DemoError(Exception):
    """The demo could not complete; the message says where."""


async def _demo(console: Console, workdir: Path) -> None:
    started = time.monotonic()
    with console.status(f"preparing {MODEL} (dequantized once from its GGUF, then cached)"):
        model_dir = converted(resolve(MODEL))
        digest = model_digest(model_dir)
    console.print(f"model [bold]{MODEL}[/bold] digest {digest.hex()[:16]}…")
    with console.status("cutting it into fragments: the head and three spans of 10 layers"):
        manifest = cut_model(model_dir, FragmentStore(workdir / "fragments"), 3, name=f"{MODEL}-pipelined")
    console.print(f"pipelined {MODEL}: " + ", ".join(f"{f.label} ({f.size / 1e6:.0f} MB)" for f in manifest.fragments)
                  + f"; model digest (Merkle root) {manifest.hex[:16]}…")
    async with contextlib.AsyncExitStack() as stack:
        with console.status("starting localnet, the aggregator, three provider nodes and six stage nodes"):
            market = await stack.enter_async_context(
                LocalMarket(workdir / "market", models=[MODEL], providers=3, sampling_rate_bps=3_000,
                            fragment_store=workdir / "fragments", pipeline_model=manifest.hex, stages=STAGES,
                            epoch_seconds=EPOCH_SECONDS, epoch_shards=len(CHANNEL_QUESTIONS)))
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

        await _channel_act(console, market, agent)
        await _pipeline_act(console, market, agent, manifest.hex)

        fees = await market.fees_paid() - fees_before
        lamports_after = await market.lamports()
        conserved = lamports_after + fees == lamports_before
        console.print(f"lamports: {lamports_before:,} before = {lamports_after:,} after + {fees:,} transaction fees — "
                      + ("[green]conserved[/green]" if conserved else "[red]NOT conserved[/red]"))
        if not conserved:
            raise DemoError("lamports were not conserved")
        console.print("stopping every process")
    console.print(f"done in {time.monotonic() - started:.0f} s")


async def _channel_act(console: Console, market: LocalMarket, agent) -> None:
    """Paying per request: a channel opened once, then each question through the OpenAI API paid by a voucher
    (HTTP 402, answered by the SDK's http client), served at once in an epoch and paid for with the epoch's others."""
    async with market.client(agent, timeout=120) as tessera:
        channel = await tessera.open_channel(CHANNEL_DEPOSIT, withdraw_delay=3600)
        console.print(f"payment channel {short(channel.address)} opened with {sol(CHANNEL_DEPOSIT)}; a session key "
                      "signs its vouchers, the wallet signs nothing more")
        paid = []
        async with tessera.async_http_client() as http:
            ai = openai.AsyncOpenAI(base_url=market.aggregator.url + "/v1", api_key="unused", max_retries=0, http_client=http)
            for question in CHANNEL_QUESTIONS:
                console.print(f"[bold]{question}[/bold] ", end="")
                # Streamed: the text shows as the provider generates it, and is verified after.
                async with ai.chat.completions.with_streaming_response.create(
                        model=MODEL, messages=[{"role": "user", "content": question}], max_tokens=CHANNEL_MAX_TOKENS,
                        temperature=0, stream=True) as response:
                    async for chunk in await response.parse():
                        if chunk.choices and chunk.choices[0].delta.content:
                            console.print(chunk.choices[0].delta.content, end="", highlight=False)
                    console.print()
                    paid.append(x402.decode(response.headers[x402.RESPONSE_HEADER]))
            epochs = sorted({request["epoch"] for request in paid})
            with console.status(f"the {len(paid)} requests' epoch is claimed, settled and closed on chain"):
                deadline = time.monotonic() + 120
                for request in paid:  # its public report (GET /v1/jobs/<request>): its epoch's state and settlements
                    while (report := (await http.get(f"{market.aggregator.url}/v1/jobs/{request['job']}")).json())["status"] != "closed":
                        if time.monotonic() > deadline:
                            raise DemoError(f"the epoch of request {request['job']} did not close: {report['status']}")
                        await asyncio.sleep(0.5)
        transactions = [item.signature for epoch in epochs
                        for item in (await market.chain.rpc.get_signatures_for_address(Pubkey.from_string(epoch))).value]
        fees = sum([(await market.chain.rpc.get_transaction(s, encoding="json")).value.transaction.meta.fee
                    for s in transactions])
        account = await tessera.channel_status()
    table = Table(title="Paid per request by voucher (OpenAI API, in an epoch)", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("requests", f"{len(paid)}, each authorized by a voucher (the last authorizes {paid[-1]['voucher']:,} lamports in all)")
    table.add_row("epoch job", f"{', '.join(short(e) for e in epochs)}: {len(transactions)} transactions for all of them "
                               "(open and claim, commitments, settlement, close)")
    table.add_row("transaction fees per request", f"{fees // len(paid):,} lamports")
    returned = account["free"] - (CHANNEL_DEPOSIT - account["claimed"])
    table.add_row("from the channel", f"{account['claimed']:,} lamports claimed once the shards were decided, "
                                      f"{returned:,} returned at close: {(CHANNEL_DEPOSIT - account['free']) // len(paid):,} a request")
    table.add_row("settled", ", ".join(f"{short(s['provider'])} {s['verdict']}" for s in report["settlements"]))
    console.print(table)


async def _pipeline_act(console: Console, market: LocalMarket, agent, model: str) -> None:
    """The same model, split over the stage nodes: no node holds it whole."""
    conversations = [{"messages": [{"role": "user", "content": q}]} for q in PIPELINE_QUESTIONS]
    with console.status(f"the agent asks the pipelined model {len(PIPELINE_QUESTIONS)} questions, one job"):
        async with market.client(agent, timeout=180) as tessera:
            result = await tessera.run(Kind.CHAT, conversations, model, {"max_new_tokens": MAX_NEW_TOKENS})
    names = {str(p.keypair.pubkey()): p.name for p in market.wallets.values()}
    answers = Table(title="Pipelined answers (SmolLM2 across stage nodes)", title_justify="left")
    for column in ("#", "question", "answer", "verified"):
        answers.add_column(column)
    for question, request in zip(PIPELINE_QUESTIONS, result.shards):
        answers.add_row(str(request.index), question, request.text, request.verification)
    console.print(answers)
    stages = Table(title="Stages", title_justify="left")
    for column in ("question", "layers", "served by", "bytes / token / hop", "verified", "checked by", "paid"):
        stages.add_column(column)
    paid = {s["provider"]: s["verdict"] for s in result.receipt.settlements}
    for request in result.shards:
        for row in request.output["stages"]:
            provider = row["provider"] or ""
            stages.add_row(str(request.index), row["layers"], names.get(provider, short(provider)),
                           f"{request.output['bytes_per_token_per_hop']:,.0f}", row["verification"],
                           ", ".join(names.get(p, short(p)) for p in row["checked_by"]) or "—", paid.get(provider, "—"))
    console.print(stages)
    console.print(f"pipelined job {short(result.receipt.job)}: paid {sol(result.receipt.paid)}, "
                  f"{sum(result.receipt.verification.values())} stage shards")


def run_demo(console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="tessera-demo-") as workdir:
        try:
            asyncio.run(_demo(console, Path(workdir)))
        except DemoError:
            raise
        except Exception as exc:  # a part failed to start or answer: say which, with its log
            raise DemoError(f"{type(exc).__name__}: {exc}") from exc
