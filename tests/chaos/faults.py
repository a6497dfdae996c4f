"""A market of separate processes with a job in flight, one process killed with -9 and restarted.

Shared by the chaos tests (which assert) and the recovery benchmark (which reports): every output
must reach the client, every lamport must be accounted for, and the job must complete within the
claim timeout plus RECOVERY_GOAL seconds of the restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from solana.constants import LAMPORTS_PER_SOL

from client.market_admin import MarketSettings, initialize_market
from client.errors import JobTimeout
from client.sdk import TesseraClient
from localnet.process import LocalnetProcess
from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain.client import TesseraChain
from marketplace.chain.program import PROGRAM_ID
from marketplace.keys import write_keypair
from provider.process import ProviderProcess
from provider.staking import Staking

FAULTS = ("provider", "aggregator", "localnet")
CLAIM_TIMEOUT = 10  # seconds the aggregator gives a claim
RECOVERY_GOAL = 15  # seconds after the restart, on top of the claim timeout
PROMPTS, NEW_TOKENS = 12, 24
DOWN = 1.0  # seconds the killed process stays dead


@dataclass(frozen=True)
class Recovery:
    fault: str
    completed_after_restart: float  # seconds from the restart to the closed job with every output
    outputs: int
    shards: int
    lamports_unaccounted: int  # airdropped − (wallets + program accounts + fees): 0 when conserved
    settlements: list[dict]

    @property
    def within_goal(self) -> bool:
        return self.completed_after_restart <= CLAIM_TIMEOUT + RECOVERY_GOAL


async def _fees(chain: TesseraChain) -> int:
    signatures = (await chain.rpc.get_signatures_for_address(PROGRAM_ID, limit=1000)).value
    fees = 0
    for item in signatures:
        tx = (await chain.rpc.get_transaction(item.signature, encoding="json")).value
        fees += tx.transaction.meta.fee if tx else 0
    return fees


def _logs(workdir: Path, lines: int = 40) -> str:
    return "\n".join(f"--- {log.name} (last {lines} lines)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                     for log in sorted(workdir.glob("*.log")))


async def run_fault(fault: str, workdir: Path, model_dir: Path, model_digest: str) -> Recovery:
    """Starts the market, puts a job in flight, kills `fault`'s process with -9, restarts it, waits for the job."""
    workdir.mkdir(parents=True, exist_ok=True)
    keys = {name: write_keypair(workdir / f"{name}.json") for name in ("verifier", "agent", "p1", "p2", "p3")}
    airdropped = 0

    def localnet(port=None):
        return LocalnetProcess(ledger=workdir / "ledger", port=port, log=workdir / "localnet.log")

    net = await localnet().start()
    processes = [net]
    try:
        chain = TesseraChain(net.url)
        for key in keys.values():
            await chain.airdrop(key.pubkey(), 10 * LAMPORTS_PER_SOL)
            airdropped += 10 * LAMPORTS_PER_SOL
        verifier = keys["verifier"].pubkey()  # the README's market: one key is authority, verifier and treasury
        market, _ = await initialize_market(chain, keys["verifier"], MarketSettings(verifier, verifier))
        for name in ("p1", "p2", "p3"):
            await Staking(chain, keys[name], market).register(2 * LAMPORTS_PER_SOL, "http://127.0.0.1", 2)
        database = f"sqlite+aiosqlite:///{workdir / 'aggregator.sqlite3'}"

        def aggregator(port=None):
            return AggregatorProcess(net.url, workdir / "verifier.json", str(market), database, port=port,
                                     claim_timeout=CLAIM_TIMEOUT, log=workdir / "aggregator.log")

        service = await aggregator().start()
        processes.append(service)

        def node(name, port=None):
            return ProviderProcess(workdir / f"{name}.json", net.url, service.url, [model_dir], workdir / f"{name}.sqlite3",
                                   capacity=2, threads=1, log=workdir / f"{name}.log", port=port)

        nodes = [await node(name).start() for name in ("p1", "p2", "p3")]
        processes += nodes
        async with TesseraClient(service.url, net.url, keys["agent"], timeout=CLAIM_TIMEOUT + 120) as client:
            job = await client.submit("generate", [{"prompt": f"chaos prompt {i}"} for i in range(PROMPTS)], model_digest,
                                      {"max_new_tokens": NEW_TOKENS})
            async for _ in client.stream(job):  # in flight: some output is verified, most is not
                break
            victim = {"provider": nodes[0], "aggregator": service, "localnet": net}[fault]
            victim.kill()
            await asyncio.sleep(DOWN)
            if fault == "localnet":
                processes[0] = net = await localnet(net.port).start()
            elif fault == "aggregator":
                processes[1] = service = await aggregator(service.port).start()
            else:
                processes[2] = nodes[0] = await node("p1", nodes[0].port).start()
            restarted = time.monotonic()
            try:
                result = await client.wait(job)
            except JobTimeout as exc:  # what each part saw, for whoever looks into it
                raise AssertionError(f"{exc}\n{_logs(workdir)}\n{await client.status(job.job)}") from exc
            completed = time.monotonic() - restarted
        accounts = (await chain.rpc.get_program_accounts(PROGRAM_ID, encoding="base64")).value
        held = sum([await chain.balance(k.pubkey()) for k in keys.values()]) + sum(a.account.lamports for a in accounts)
        unaccounted = airdropped - held - await _fees(chain)
        await chain.close()
        return Recovery(fault, completed, sum(o is not None for o in result.outputs), PROMPTS, unaccounted,
                        result.receipt.settlements)
    finally:
        for process in reversed(processes):
            await process.stop()
