"""A whole market for aggregator tests: localnet, a market whose verifier is the aggregator, the aggregator over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet.server import Localnet, LocalnetConfig
from marketplace.aggregator.app import create_app
from marketplace.aggregator.appkeys import SERVICE
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.service import Aggregator
from marketplace.chain import MarketConfig, job_address, market_address
from marketplace.chain import instructions as ix
from marketplace.chain.client import TesseraChain
from marketplace.digests import input_digest
from marketplace.merkle import merkle_root
from marketplace.messages import read_authorization, sign_message
from tests.integration.scripted import MODEL_DIGEST, generate

SOL = 1_000_000_000


@dataclass
class Market:
    net: Localnet
    chain: TesseraChain
    authority: Keypair
    treasury: Pubkey
    address: Pubkey
    aggregator_url: str
    config: AggregatorConfig
    service: Aggregator | None = None  # the in-process aggregator, for tests that look inside it
    clients: dict[str, Keypair] = field(default_factory=dict)  # job -> the keypair that paid for it

    async def request(self, method: str, path: str, body=None, reader: Keypair | None = None) -> tuple[int, dict]:
        """A job's report is read as its client (outputs are the client's) unless another `reader` is named."""
        headers = None
        if method == "GET" and path.startswith("/v1/jobs/") and not path.endswith("/seed"):
            job = path.removeprefix("/v1/jobs/").split("?")[0]
            reader = reader or self.clients.get(job)
            headers = {"Authorization": read_authorization(reader, job)} if reader else None
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.aggregator_url + path, json=body, headers=headers) as response:
                return response.status, await response.json()

    async def submit_job(self, client: Keypair, inputs: list[dict], params: dict | None = None, kind: str = "generate",
                         price: int | None = None, model: bytes = MODEL_DIGEST) -> str:
        status, quote = await self.request("POST", "/v1/quotes", {"model_digest": model.hex(), "shard_count": len(inputs), "kind": kind})
        assert status == 200, quote
        job = job_address(self.address, quote["job_id"])[0]
        await self.chain.send([ix.create_job(
            client.pubkey(), self.address, quote["job_id"], model_digest=model,
            input_root=merkle_root([input_digest(i) for i in inputs]), seed_commitment=bytes.fromhex(quote["seed_commitment"]),
            price_per_shard=price or quote["price_per_shard"], deadline=quote["deadline"], shard_count=len(inputs))], [client])
        self.clients[str(job)] = client
        body = {"job": str(job), "kind": kind, "params": params if kind == "generate" else None, "inputs": inputs}
        status, answer = await self.request("POST", "/v1/jobs", sign_message(client, "job", body, job=str(job)).to_json())
        assert status == 201, answer
        return str(job)

    async def wait_for(self, job: str, status: str = "closed", timeout: float = 60.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                _, report = await self.request("GET", f"/v1/jobs/{job}")
                if report.get("status") == status:
                    return report
                await asyncio.sleep(0.1)


# The least sampling rate that deters faking a shard at these markets' price, stake and slash (the program refuses
# less): 1 shard in 5,000 gets a replica, so tests about other things see (almost) none.
RAREST_SAMPLING_BPS = 2


@asynccontextmanager
async def running_market(tmp_path: Path, sampling_rate_bps: int = 5_000, db_url: str | None = None, db_schema: str | None = None,
                         claim_timeout: int = 60, slot_interval: float = 0.4, job_lifetime: int = 600,
                         with_aggregator: bool = True, cache_fee_bps: int = 2_500, long_poll: float = 1.0,
                         provider_timeout: int = 15, grace_period: int = 3_600, epoch_seconds: float = 0.0,
                         epoch_shards: int = 1_024):
    """A market on an in-process localnet; with `with_aggregator`, an in-process aggregator serves it."""
    async with Localnet(LocalnetConfig(port=0, slot_interval=slot_interval)) as net:
        chain = TesseraChain(net.url)
        authority, treasury = Keypair(), Keypair().pubkey()
        await chain.airdrop(authority.pubkey(), 100 * SOL)
        await chain.airdrop(treasury, SOL)  # a treasury must hold the rent-exempt minimum to take fees
        await chain.send([ix.initialize_market(authority.pubkey(), MarketConfig(
            authority.pubkey(), treasury, SOL, 60, claim_timeout, 200, 5_000, sampling_rate_bps, cache_fee_bps,
            grace_period))], [authority])
        keypair_file = tmp_path / "verifier.json"
        keypair_file.write_text(json.dumps(list(bytes(authority))))
        market = market_address(authority.pubkey())[0]
        config = AggregatorConfig(
            rpc_url=net.url, pubsub_url=net.ws_url, keypair=keypair_file, market=str(market),
            db_url=db_url or f"sqlite+aiosqlite:///{tmp_path / 'aggregator.sqlite3'}", db_schema=db_schema,
            port=0, claim_timeout=claim_timeout, long_poll=long_poll, tick=0.1, job_lifetime=job_lifetime,
            provider_timeout=provider_timeout, epoch_seconds=epoch_seconds, epoch_shards=epoch_shards,
        )
        runner = web.AppRunner(create_app(config), access_log=None)
        url, service = "", None
        if with_aggregator:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            service = runner.app[SERVICE]
        try:
            yield Market(net, chain, authority, treasury, market, url, config, service)
        finally:
            await runner.cleanup()
            await chain.close()


def expected_tokens(prompt: str, n: int) -> list[int]:
    return generate(prompt, n)


def prompt_inputs(count: int, salt: str = "") -> list[dict]:
    return [{"prompt": f"prompt number {i}: " + hashlib.sha256(f"{salt}{i}".encode()).hexdigest()[:8]} for i in range(count)]
