"""Putting a stage together: the model's files and the span's fragment (from peers when missing), the span
loaded from its fragment alone, the HTTP API on a port, and (given an aggregator) a place in its market;
then serve until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import torch
from aiohttp import web

from marketplace.chain.client import TesseraChain
from marketplace.keys import load_keypair
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.store import FragmentStore
from provider.pipeline.fetch import FragmentFetcher
from provider.pipeline.sessions import DEFAULT_IDLE_TIMEOUT, StageSessions
from provider.pipeline.spans import load_span
from provider.pipeline.stage_market import StageMarket
from provider.pipeline.stage_server import create_stage_app

log = logging.getLogger("tessera.stage")


@dataclass(frozen=True)
class StageSetup:
    store: Path
    model: str  # the model digest, hex
    layers: Span
    keypair: Path
    peers: Sequence[str] = ()
    host: str = "127.0.0.1"
    port: int = 0
    max_sessions: int = 8
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    threads: int | None = None
    aggregator: str | None = None  # the market to serve in; None: a stage for drivers outside any market
    rpc: str = "http://127.0.0.1:8899"


async def run_stage(setup: StageSetup, install_stop: Callable[[asyncio.Event], None]) -> None:
    if setup.threads:
        torch.set_num_threads(setup.threads)
    store = FragmentStore(setup.store)
    async with aiohttp.ClientSession() as http:
        fetcher = FragmentFetcher(store, setup.peers, http)
        manifest = await fetcher.model(setup.model)
        await fetcher.fragment(manifest.fragment_for(setup.layers))
    for peer, why in fetcher.report.refused:
        log.error("peer %s refused: %s", peer, why)
    span = await asyncio.to_thread(load_span, store, manifest, setup.layers)
    keypair = load_keypair(setup.keypair)
    sessions = StageSessions(span, keypair, setup.max_sessions, setup.idle_timeout)
    async with contextlib.AsyncExitStack() as stack:
        market = None
        endpoint = f"http://{setup.host}:{setup.port}"
        if setup.aggregator:
            chain = await stack.enter_async_context(TesseraChain(setup.rpc))
            market = await StageMarket.join(setup.aggregator, chain, keypair, manifest, setup.layers, endpoint,
                                            setup.max_sessions)
        runner = web.AppRunner(create_stage_app(sessions, store, market), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, setup.host, setup.port)
        await site.start()
        port = runner.addresses[0][1]
        # One line the launcher reads: where the stage answers (the port may have been chosen by the OS).
        print(f"stage ready http://{setup.host}:{port} layers {setup.layers} of {manifest.name} {manifest.hex} "
              f"({span.parameters():,} parameters resident)", flush=True)
        stop = asyncio.Event()
        install_stop(stop)
        if market is not None:
            market.endpoint = f"http://{setup.host}:{port}"
            await market.stay_registered(stop)
        else:
            await stop.wait()
