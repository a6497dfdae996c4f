"""Integration fixtures: the real localnet server on free loopback ports."""

from __future__ import annotations

import aiohttp
import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

from localnet.server import Localnet, LocalnetConfig

SOL = 1_000_000_000


@pytest.fixture
async def net():
    async with Localnet(LocalnetConfig(port=0)) as running:
        yield running


@pytest.fixture
async def client(net):
    rpc = AsyncClient(net.url)
    yield rpc
    await rpc.close()


@pytest.fixture
async def wallet(client) -> Keypair:
    key = Keypair()
    await client.request_airdrop(key.pubkey(), 100 * SOL)
    return key


async def rpc_call(url: str, method: str, params: list | None = None):
    """A raw JSON-RPC call, for methods solana-py lacks and for malformed requests."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}) as response:
            return await response.json()
