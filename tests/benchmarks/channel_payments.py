"""Paying by voucher from a payment channel versus paying by create_job, side by side in one local market.

AGENTS agents each make REQUESTS one-prompt requests, one after another, all agents at once, against a local
market (localnet, aggregator, PROVIDERS provider processes serving a small seeded GPT-2): once paying with
create_job (the agent signs a transaction per request), once by voucher from a channel opened beforehand. For
each: the program's transactions and their fees per request (every fee on chain, whoever paid it), and the
median request latency. Also the aggregator's voucher check alone, timed in-process.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass
from pathlib import Path

AGENTS, REQUESTS, PROVIDERS = 10, 10, 3
EPOCH_REQUESTS = 100  # per agent, in the epoch run: 1,000 in all, one epoch
NEW_TOKENS = 4


@dataclass(frozen=True)
class Mode:
    name: str
    requests: int
    transactions: int
    fees: int  # lamports of every transaction fee on chain, whoever paid
    latency_s: float  # median, quote to the closed job (in an epoch: to the verified answer)

    @property
    def per_request(self) -> float:
        return self.transactions / self.requests


@dataclass(frozen=True)
class ChannelPayments:
    job_per_request: Mode
    voucher: Mode
    epoch: Mode  # by voucher, served at once and paid together in epochs
    check_us: float  # the aggregator's off-chain voucher check, microseconds


async def _program_transactions(market, since: set[str]) -> tuple[list, set[str]]:
    from marketplace.chain.program import PROGRAM_ID

    signatures, before = [], None
    while True:  # every transaction that touched the program, newest first, page by page
        page = (await market.chain.rpc.get_signatures_for_address(PROGRAM_ID, before=before, limit=1000)).value
        signatures += [s.signature for s in page if str(s.signature) not in since]
        if len(page) < 1000:
            return signatures, since | {str(s.signature) for s in page}
        before = page[-1].signature


async def _fees(market, signatures) -> int:
    total = 0
    for signature in signatures:
        tx = (await market.chain.rpc.get_transaction(signature, encoding="json")).value
        total += tx.transaction.meta.fee
    return total


async def _prepared_agents(market, by_voucher: bool) -> list:
    """Funded agents' clients; with `by_voucher`, each has opened its channel (a one-off, not counted per request)."""
    from solana.constants import LAMPORTS_PER_SOL

    clients = []
    for index in range(AGENTS):
        agent = await market.fund(f"{'voucher' if by_voucher else 'job'}-agent-{index}", 5 * LAMPORTS_PER_SOL)
        tessera = market.client(agent, timeout=600)
        if by_voucher:
            await tessera.open_channel(2 * LAMPORTS_PER_SOL, withdraw_delay=3_600)
        clients.append(tessera)
    return clients


async def _requests(clients: list, digest: bytes, requests: int = REQUESTS) -> list[float]:
    latencies: list[float] = []

    async def one(index: int, tessera) -> None:
        for request in range(requests):
            start = time.perf_counter()
            await tessera.generate(f"agent {index} asks question {request}", model=digest, max_new_tokens=NEW_TOKENS)
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return latencies


async def _market(model_dir: Path, workdir: Path, digest: bytes) -> tuple[Mode, Mode]:
    from client.local_market import LocalMarket

    async with LocalMarket(workdir, models=[model_dir], providers=PROVIDERS, sampling_rate_bps=1_000,
                           capacity=8, epoch_seconds=0) as market:  # a voucher-paid request claimed before it is served
        modes = []
        for name, by_voucher in (("a job per request, signed by the agent (create_job)", False),
                                 ("by voucher from a payment channel (claim_channel)", True)):
            clients = await _prepared_agents(market, by_voucher)
            _, seen = await _program_transactions(market, set())
            latencies = await _requests(clients, digest)  # each returns once its job has closed
            signatures, _ = await _program_transactions(market, seen)
            for tessera in clients:
                await tessera.close()
            modes.append(Mode(name, AGENTS * REQUESTS, len(signatures), await _fees(market, signatures),
                              statistics.median(latencies)))
        return modes[0], modes[1]


async def _epoch_market(model_dir: Path, workdir: Path, digest: bytes) -> Mode:
    """The same agents and providers, the aggregator serving paid requests in epochs: every transaction from the first
    request until the last epoch has closed, its claims, commitments, settlements and close included."""
    from client.local_market import LocalMarket

    requests = AGENTS * EPOCH_REQUESTS
    async with LocalMarket(workdir, models=[model_dir], providers=PROVIDERS, sampling_rate_bps=1_000, capacity=8,
                           epoch_seconds=900, epoch_shards=requests) as market:
        clients = await _prepared_agents(market, by_voucher=True)
        _, seen = await _program_transactions(market, set())
        latencies = await _requests(clients, digest, EPOCH_REQUESTS)  # each returns once its answer is verified
        epochs = {voucher["epoch"] for tessera in clients for voucher in (await tessera.channel_status())["vouchers"]}
        async with asyncio.timeout(600):
            for epoch in epochs:  # its public report: settled and closed
                while (await clients[0].api.request("GET", f"/v1/jobs/{epoch}", None, None))["status"] != "closed":
                    await asyncio.sleep(0.5)
        signatures, _ = await _program_transactions(market, seen)
        for tessera in clients:
            await tessera.close()
        return Mode(f"by voucher, served at once and paid together ({len(epochs)} epoch{'s' * (len(epochs) > 1)})",
                    requests, len(signatures), await _fees(market, signatures), statistics.median(latencies))


def _check_voucher_us() -> float:
    from solders.keypair import Keypair
    from solders.pubkey import Pubkey

    from marketplace.aggregator.payments import ChannelState, check_voucher
    from marketplace.chain import ChannelAccount
    from marketplace.chain.vouchers import Voucher

    market, channel, authorizer = Pubkey.new_unique(), Pubkey.new_unique(), Keypair()
    state = ChannelState(channel, ChannelAccount(market, Pubkey.new_unique(), authorizer.pubkey(), 0, 1, 60, 0, 0, 255), 10**9, 1)
    voucher = Voucher.sign(authorizer, channel, 1, 10**6)
    runs = 2_000
    seconds = timeit.timeit(lambda: check_voucher(state, market, voucher, authorizer.pubkey(), 204_000, 2_500_000), number=runs)
    return seconds / runs * 1e6


def measure() -> ChannelPayments:
    from provider.model_builder import build_causal_lm
    from provider.models import load_model

    with tempfile.TemporaryDirectory() as directory:
        model_dir = build_causal_lm(Path(directory) / "gpt2", "gpt2", seed=5, layers=2, width=64, heads=2)
        digest = load_model(model_dir).digest
        per_job, voucher = asyncio.run(_market(model_dir, Path(directory) / "market", digest))
        epoch = asyncio.run(_epoch_market(model_dir, Path(directory) / "epoch-market", digest))
    return ChannelPayments(per_job, voucher, epoch, _check_voucher_us())


def markdown(result: ChannelPayments) -> str:
    rows = []
    for mode in (result.job_per_request, result.voucher, result.epoch):
        rows.append(f"| {mode.name} | {mode.requests:,} | {mode.transactions} | {mode.per_request:.3f} | "
                    f"{mode.fees // mode.requests:,} | {mode.latency_s:.2f} |")
    ratio = result.voucher.latency_s / result.job_per_request.latency_s
    epoch = result.epoch
    met = epoch.per_request <= 0.01 and epoch.fees / epoch.requests <= 100
    return "\n".join([
        "## Paying per request: by voucher versus a job per request",
        "",
        f"{AGENTS} agents, one-prompt requests one after another per agent, all agents at once, over {PROVIDERS} "
        f"provider processes (a small seeded GPT-2, {NEW_TOKENS} new tokens); market sampling 10%. {REQUESTS} "
        f"requests per agent for the first two rows; {EPOCH_REQUESTS} for the epoch run (an epoch ends once it holds "
        f"{AGENTS * EPOCH_REQUESTS:,} shards). Transactions are every one that touched the program, whoever sent it "
        "(claims, provider commitments, settlements, closes), until every job or epoch has closed; opening the "
        "channels (once per agent) is left out. Latency: a request's, from its quote to the job closed (first two "
        "rows) or to its answer verified (the epoch: its money moves after).",
        "",
        "| paying | requests | transactions | per request | fees per request (lamports) | median latency (s) |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Voucher-paid request latency ÷ create_job-paid, a job each: {ratio:.2f}; in an epoch: "
        f"{epoch.latency_s / result.job_per_request.latency_s:.2f} (goal ≤ 1.02 for the payment check). The "
        f"aggregator's voucher check itself (signature, generation, amount, funds) takes {result.check_us:.0f} µs.",
        "",
        "Goals (issue #18): ≤ 0.01 transactions and ≤ 100 lamports of fees per request: "
        + ("**met** by the epoch run" if met else "**not met** by the epoch run")
        + f" ({epoch.per_request:.3f} and {epoch.fees / epoch.requests:.0f}): one epoch job for all the agents' requests, "
        "opened with the channels' claims packed (three to a transaction), one commitment per provider, and one "
        "settlement that also closes it.",
        "",
    ])


if __name__ == "__main__":
    print(markdown(measure()), file=sys.stdout)
