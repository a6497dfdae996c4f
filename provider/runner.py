"""Putting a node together from its settings: keypair, models, chain, journal; then run until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from solders.pubkey import Pubkey

from marketplace.chain.client import TesseraChain
from marketplace.http import JsonApi
from marketplace.keys import load_keypair
from provider.errors import DeviceUnavailable
from provider.executor import Executor
from provider.journal import Journal
from provider.models import load_model
from provider.node import NodeConfig, ProviderNode

log = logging.getLogger("tessera.provider")


@dataclass(frozen=True)
class NodeSetup:
    keypair: Path
    rpc: str
    market: str | None
    aggregator: str
    models: list[Path | str]  # directories, GGUF files or catalog names
    journal: Path
    capacity: int = 8
    threads: int | None = None
    max_input_tokens: int | None = None
    health_port: int = 0
    endpoint: str = ""
    device: str | None = None  # cpu | cuda; None: cuda when torch sees one, else cpu


def use_device(name: str | None) -> str:
    """Makes `name` the device every tensor and model of this process lives on (a node serves from one)."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("--device cuda, but torch sees no CUDA device here")
    torch.set_default_device(name)
    return name


async def _market(setup: NodeSetup) -> Pubkey:
    if setup.market:
        return Pubkey.from_string(setup.market)
    async with JsonApi(setup.aggregator, timeout=10) as api:
        return Pubkey.from_string((await api.get("/v1/health"))["market"])


async def run_node(setup: NodeSetup, install_stop: Callable[[asyncio.Event], None]) -> None:
    if setup.threads:
        torch.set_num_threads(setup.threads)
    device = use_device(setup.device)
    keypair = load_keypair(setup.keypair)
    models = [load_model(path, setup.max_input_tokens, device=device) for path in setup.models]
    for model in models:
        log.info("serving %s (%s) digest %s on %s", model.name, model.kind.value, model.hex, device)
    market = await _market(setup)
    stop = asyncio.Event()
    install_stop(stop)
    async with TesseraChain(setup.rpc) as chain:
        node = ProviderNode(NodeConfig(aggregator=setup.aggregator, journal=setup.journal, endpoint=setup.endpoint,
                                       capacity=setup.capacity, health_port=setup.health_port),
                            keypair, market, chain, Executor(models), Journal(setup.journal))
        await node.run(stop)
    log.info("stopped")
