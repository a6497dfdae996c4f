"""Runs `tessera provider run` in a subprocess: `async with ProviderProcess(...) as node: node.health_url`."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp

from marketplace.process import ServiceProcess, free_port


class ProviderProcess(ServiceProcess):
    def __init__(self, keypair: Path, rpc: str, aggregator: str, models: list[Path], journal: Path,
                 capacity: int = 8, threads: int | None = None, log: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        command = [sys.executable, "-m", "provider", "run", "--keypair", str(keypair), "--rpc", rpc,
                   "--aggregator", aggregator, "--journal", str(journal), "--capacity", str(capacity),
                   "--health-port", str(self.port)]
        for model in models:
            command += ["--model", str(model)]
        if threads:
            command += ["--threads", str(threads)]
        super().__init__(command, self._healthy, log, env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
                         port_flag=None if port else "--health-port")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        async with session.get(self.health_url) as response:
            return response.status == 200
