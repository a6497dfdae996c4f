"""Runs `tessera provider stage` in a subprocess: `async with StageProcess(...) as stage: stage.url`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from marketplace.process import ServiceProcess, free_port


class StageProcess(ServiceProcess):
    def __init__(self, keypair: Path, store: Path, model: str, layers: str, peers: Sequence[str] = (),
                 threads: int | None = 1, max_sessions: int = 8, log: Path | None = None, port: int | None = None,
                 aggregator: str | None = None, rpc: str | None = None) -> None:
        self.port = port or free_port()
        self.layers = layers
        command = [sys.executable, "-m", "provider", "stage", "--keypair", str(keypair), "--store", str(store),
                   "--model", model, "--layers", layers, "--port", str(self.port), "--max-sessions", str(max_sessions)]
        for peer in peers:
            command += ["--peer", peer]
        if threads:
            command += ["--threads", str(threads)]
        if aggregator:
            command += ["--aggregator", aggregator, "--rpc", rpc or "http://127.0.0.1:8899"]
        # Idle stages' OpenMP threads must not spin on cores the busy stage needs.
        super().__init__(command, self._healthy, log, env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                                                           "OMP_WAIT_POLICY": "PASSIVE"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        async with session.get(f"{self.url}/health") as response:
            return response.status == 200
