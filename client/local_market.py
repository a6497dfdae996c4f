"""A whole market on this machine, every part its own process: localnet, the aggregator, provider nodes.

What `tessera demo`, the end-to-end test and the benchmarks run:

    async with LocalMarket(workdir, models=[model_dir], providers=3) as market:
        async with market.client(agent) as tessera:
            await tessera.generate(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from solana.constants import LAMPORTS_PER_SOL
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client.market_admin import MarketSettings, initialize_market
from client.sdk import TesseraClient
from localnet.process import LocalnetProcess
from marketplace.aggregator.process import AggregatorProcess
from marketplace.chain.client import TesseraChain
from marketplace.keys import write_keypair
from marketplace.process import ServiceProcess
from provider.pipeline.process import StageProcess
from provider.process import ProviderProcess
from provider.staking import Staking


@dataclass
class Participant:
    name: str
    keypair: Keypair
    path: Path


@dataclass
class LocalMarket:
    workdir: Path
    models: list[Path]
    providers: int = 3
    sampling_rate_bps: int = 1_000
    provider_stake: int = 2 * LAMPORTS_PER_SOL
    threads_per_provider: int | None = 1
    capacity: int = 8
    extra_nodes: list[tuple[str, list[str]]] = field(default_factory=list)  # (name, command prefix) run like a provider
    price_per_shard: int = 100_000
    # Requests paid by voucher are served at once and paid together per epoch of this many seconds (0: each claimed
    # before it is served; None: the aggregator's default).
    epoch_seconds: float | None = None
    epoch_shards: int | None = None  # an epoch holding this many shards ends before its time
    # A pipelined model: the fragment store it was cut into, its digest, and (name, layers) of each stage node. The
    # first node of each span serves from that store; the others start empty and fetch from the first node.
    fragment_store: Path | None = None
    pipeline_model: str | None = None
    stages: list[tuple[str, str]] = field(default_factory=list)
    stage_commands: dict[str, list[str]] = field(default_factory=dict)  # name -> command prefix (a dishonest stage)
    keypairs: dict[str, Keypair] = field(default_factory=dict)  # participants' keys, where a caller fixes them

    async def __aenter__(self) -> LocalMarket:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.processes: list[ServiceProcess] = []
        self.wallets: dict[str, Participant] = {}
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def participant(self, name: str) -> Participant:
        if name not in self.wallets:
            path = self.workdir / f"{name}.json"
            self.wallets[name] = Participant(name, write_keypair(path, self.keypairs.get(name)), path)
        return self.wallets[name]

    async def _start(self) -> None:
        self.localnet = await LocalnetProcess(log=self.workdir / "localnet.log").start()
        self.processes.append(self.localnet)
        self.chain = TesseraChain(self.localnet.url)
        authority, self.treasury = self.participant("verifier"), self.participant("treasury")
        await self.chain.airdrop(authority.keypair.pubkey(), 100 * LAMPORTS_PER_SOL)
        await self.chain.airdrop(self.treasury.keypair.pubkey(), LAMPORTS_PER_SOL)  # rent-exempt, as a real cluster needs
        names = [f"provider-{i + 1}" for i in range(self.providers)] + [name for name, _ in self.extra_nodes]
        stage_names = [name for name, _ in self.stages]
        for name in names + stage_names:
            await self.chain.airdrop(self.participant(name).keypair.pubkey(), self.provider_stake + LAMPORTS_PER_SOL)
        self.address, _ = await initialize_market(self.chain, authority.keypair, MarketSettings(
            authority.keypair.pubkey(), self.treasury.keypair.pubkey(), sampling_rate_bps=self.sampling_rate_bps))
        for name in names + stage_names:
            await Staking(self.chain, self.participant(name).keypair, self.address).register(
                self.provider_stake, "http://127.0.0.1", self.capacity)
        self.aggregator = await AggregatorProcess(
            self.localnet.url, authority.path, str(self.address), f"sqlite+aiosqlite:///{self.workdir / 'aggregator.sqlite3'}",
            log=self.workdir / "aggregator.log", price=self.price_per_shard,
            fragment_store=self.workdir / "aggregator-fragments", epoch_seconds=self.epoch_seconds,
            epoch_shards=self.epoch_shards).start()
        self.processes.append(self.aggregator)
        starts = []
        for name in names:
            node = ProviderProcess(self.participant(name).path, self.localnet.url, self.aggregator.url, self.models,
                                   self.workdir / f"{name}.sqlite3", capacity=self.capacity,
                                   threads=self.threads_per_provider, log=self.workdir / f"{name}.log")
            prefix = dict(self.extra_nodes).get(name)
            if prefix:  # a node run by another program with the same arguments (the e2e test's dishonest one)
                node.command = prefix + node.command[3:]  # instead of `python -m provider`
            starts.append(node)
        self.nodes = await asyncio.gather(*(node.start() for node in starts))
        self.processes.extend(self.nodes)
        self.stage_nodes = await self._start_stages()

    async def _start_stages(self) -> dict[str, StageProcess]:
        started: dict[str, StageProcess] = {}
        first_of_span: dict[str, StageProcess] = {}

        def stage(name: str, layers: str) -> StageProcess:
            source = first_of_span.get(layers)
            store = self.fragment_store if source is None else self.workdir / f"{name}-fragments"
            process = StageProcess(self.participant(name).path, store, self.pipeline_model, layers,
                                   peers=[source.url] if source else [],
                                   threads=self.threads_per_provider, log=self.workdir / f"{name}.log",
                                   aggregator=self.aggregator.url, rpc=self.localnet.url)
            if name in self.stage_commands:
                process.command = self.stage_commands[name] + process.command[3:]  # instead of `python -m provider`
            return process

        for name, layers in self.stages:  # the first holder of each span: from the store the model was cut into
            if layers not in first_of_span:
                first_of_span[layers] = started[name] = stage(name, layers)
        await asyncio.gather(*(process.start() for process in started.values()))
        self.processes.extend(started.values())
        rest = {name: stage(name, layers) for name, layers in self.stages if name not in started}
        await asyncio.gather(*(process.start() for process in rest.values()))
        self.processes.extend(rest.values())
        if self.stages:
            await self._until_stages_registered()
        return {**started, **rest}

    async def _until_stages_registered(self, timeout: float = 60.0) -> None:
        """Stages register with the aggregator once they serve: wait until every one is listed."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"{self.aggregator.url}/v1/pipelines/{self.pipeline_model}") as response:
                    listed = await response.json() if response.status == 200 else {}
                holders = sum(len(h) for h in listed.get("holders", {}).values())
                if holders == len(self.stages):
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"only {holders} of {len(self.stages)} stages registered: {listed}")
                await asyncio.sleep(0.2)

    def client(self, participant: Participant, **options) -> TesseraClient:
        return TesseraClient(self.aggregator.url, self.localnet.url, participant.keypair, **options)

    async def fund(self, name: str, lamports: int) -> Participant:
        participant = self.participant(name)
        await self.chain.airdrop(participant.keypair.pubkey(), lamports)
        return participant

    async def fees_paid(self) -> int:
        """Transaction fees of every transaction that touched the program (all of the market's)."""
        from marketplace.chain.program import PROGRAM_ID

        total, before = 0, None
        while True:
            page = (await self.chain.rpc.get_signatures_for_address(PROGRAM_ID, before=before, limit=1000)).value
            for item in page:
                tx = (await self.chain.rpc.get_transaction(item.signature, encoding="json")).value
                total += tx.transaction.meta.fee if tx else 0
            if len(page) < 1000:
                return total
            before = page[-1].signature

    async def lamports(self, extra: list[Pubkey] = ()) -> int:
        """Lamports held by every participant's wallet and every program account."""
        from marketplace.chain.program import PROGRAM_ID

        wallets = [p.keypair.pubkey() for p in self.wallets.values()] + list(extra)
        total = sum([await self.chain.balance(w) for w in wallets])
        accounts = (await self.chain.rpc.get_program_accounts(PROGRAM_ID, encoding="base64")).value
        return total + sum(a.account.lamports for a in accounts)

    async def stop(self) -> None:
        """The nodes together (each finishes what it holds), then the aggregator, then localnet: nobody loses the
        party it is still talking to."""
        processes = getattr(self, "processes", [])
        services = [p for p in processes if p is getattr(self, "localnet", None) or p is getattr(self, "aggregator", None)]
        await asyncio.gather(*(p.stop() for p in processes if p not in services), return_exceptions=True)
        for process in reversed(services):
            with contextlib.suppress(Exception):
                await process.stop()
        if getattr(self, "chain", None) is not None:
            await self.chain.close()


def python_module(module: str) -> list[str]:
    """A command prefix that runs `module` with this interpreter (for extra_nodes)."""
    return [sys.executable, "-m", module]

