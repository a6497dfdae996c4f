"""Runs `tessera aggregator` in a subprocess: `async with AggregatorProcess(...) as agg: agg.url`."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp

from marketplace.process import ServiceProcess, free_port


class AggregatorProcess(ServiceProcess):
    def __init__(self, rpc: str, keypair: Path, market: str, db: str, db_schema: str | None = None,
                 port: int | None = None, claim_timeout: int = 60, log: Path | None = None, price: int | None = None,
                 fragment_store: Path | None = None, epoch_seconds: float | None = None,
                 epoch_shards: int | None = None, ws: str | None = None) -> None:
        self.port = port or free_port()
        command = [sys.executable, "-m", "marketplace.aggregator", "--rpc", rpc, "--keypair", str(keypair),
                   "--market", market, "--db", db, "--port", str(self.port), "--claim-timeout", str(claim_timeout)]
        if ws is not None:  # None: the RPC URL's, port + 1
            command += ["--ws", ws]
        if price is not None:
            command += ["--price", str(price)]
        if db_schema:
            command += ["--db-schema", db_schema]
        if fragment_store is not None:
            command += ["--fragment-store", str(fragment_store)]
        if epoch_seconds is not None:  # None: the aggregator's default
            command += ["--epoch-seconds", str(epoch_seconds)]
        if epoch_shards is not None:
            command += ["--epoch-shards", str(epoch_shards)]
        super().__init__(command, self._healthy, log, env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
                         port_flag=None if port else "--port")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        async with session.get(self.url + "/v1/health") as response:
            return response.status == 200
