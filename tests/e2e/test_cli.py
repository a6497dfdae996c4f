"""The `tessera` CLI and the sync SDK against a local market in separate processes: one market for the module
(each test its own agent), as starting one takes longer than most of these tests."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess

import aiohttp
import pytest
import pytest_asyncio
from solana.constants import LAMPORTS_PER_SOL

from client import BudgetExceeded, TesseraSyncClient
from client.local_market import LocalMarket
from marketplace.chain import JobAccount
from marketplace.chain.program import account_size
from tests.cli import TESSERA

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def tessera(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=180)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def market(tmp_path_factory, gpt2_dir):
    # Requests paid by voucher are claimed before they are served (each receipt shows its claim).
    async with LocalMarket(tmp_path_factory.mktemp("market"), models=[gpt2_dir], providers=2,
                           sampling_rate_bps=5_000, epoch_seconds=0) as running:
        yield running


async def test_the_cli_pays_follows_and_reports(market, gpt2):
    agent = market.participant("cli-agent")
    funded = await asyncio.to_thread(tessera, "airdrop", "5", "--keypair", str(agent.path), "--rpc", market.localnet.url)
    assert "5.0000 SOL" in funded.stdout
    where = ["--keypair", str(agent.path), "--rpc", market.localnet.url, "--aggregator", market.aggregator.url]
    done = await asyncio.to_thread(tessera, "generate", "hello there", "second prompt", "--model", gpt2.hex,
                                   "--max-new-tokens", "5", "--temperature", "0.5", "--json", *where)
    answer = json.loads(done.stdout)
    assert len(answer["outputs"]) == 2 and all(len(o["token_ids"]) <= 5 for o in answer["outputs"])
    assert answer["receipt"]["status"] == "closed" and answer["receipt"]["signatures"]["close_job"]

    status = json.loads((await asyncio.to_thread(tessera, "job", "status", answer["job"], "--json", *where)).stdout)
    assert status["status"] == "closed" and status["seed"]
    shown = json.loads((await asyncio.to_thread(tessera, "market", "show", "--json", *where)).stdout)
    assert shown["market"] == str(market.address) and shown["sampling_rate_bps"] == 5_000

    provider = market.participant("provider-1")
    stake_where = ["--keypair", str(provider.path), "--rpc", market.localnet.url, "--market", str(market.address)]
    report = json.loads((await asyncio.to_thread(tessera, "provider", "status", "--json", *stake_where)).stdout)
    assert report["registered"] and report["stake"] == market.provider_stake
    await asyncio.to_thread(tessera, "provider", "stake", "0.5", *stake_where)
    await asyncio.to_thread(tessera, "provider", "unstake", "0.25", *stake_where)
    early = await asyncio.to_thread(tessera, "provider", "withdraw", *stake_where, check=False)
    assert early.returncode == 1 and "can be withdrawn in" in early.stderr
    report = json.loads((await asyncio.to_thread(tessera, "provider", "status", "--json", *stake_where)).stdout)
    assert report["unbonding"] == LAMPORTS_PER_SOL // 4 and report["withdrawable_in"] > 0


async def test_an_agent_pays_from_a_channel_without_signing_a_transaction_per_request(market, gpt2, tmp_path):
    agent = await market.fund("channel-agent", 5 * LAMPORTS_PER_SOL)
    where = ["--keypair", str(agent.path), "--rpc", market.localnet.url, "--aggregator", market.aggregator.url]
    authorizer = tmp_path / "authorizer.json"
    opened = json.loads((await asyncio.to_thread(tessera, "channel", "open", "1", "--withdraw-delay", "1", "--authorizer",
                                                 str(authorizer), "--json", *where)).stdout)
    assert oct(authorizer.stat().st_mode & 0o777) == "0o600"
    wallet = await market.chain.balance(agent.keypair.pubkey())
    for prompt in ("first paid request", "second paid request"):
        done = await asyncio.to_thread(tessera, "generate", prompt, "--model", gpt2.hex, "--max-new-tokens", "3",
                                       "--channel", str(authorizer), "--json", *where)
        receipt = json.loads(done.stdout)["receipt"]
        assert set(receipt["signatures"]) == {"claim_channel", "close_job"} and receipt["channel"] == opened["channel"]
    assert await market.chain.balance(agent.keypair.pubkey()) == wallet  # vouchers, not transactions
    mine = ["--authorizer", str(authorizer), "--json", *where]
    status = json.loads((await asyncio.to_thread(tessera, "channel", "status", *mine)).stdout)
    assert [v["status"] for v in status["vouchers"]] == ["claimed"] * 2 and status["open_jobs"] == 0
    requested = json.loads((await asyncio.to_thread(tessera, "channel", "withdraw", *mine)).stdout)
    assert requested["requested"]
    for _ in range(60):  # the delay passes on the chain's clock
        withdrawing = await asyncio.to_thread(tessera, "channel", "withdraw", *mine, check=False)
        if "WithdrawDelayNotElapsed" not in withdrawing.stderr:
            break
        await asyncio.sleep(0.5)
    assert withdrawing.returncode == 0, withdrawing.stderr
    withdrawn = json.loads(withdrawing.stdout)
    assert withdrawn["returned"] == status["free"] + await market.chain.rent_exempt_minimum(account_size("Channel"))
    again = await asyncio.to_thread(tessera, "channel", "open", "1", "--authorizer", str(authorizer), *where, check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    poor = await asyncio.to_thread(tessera, "channel", "open", "1000", "--authorizer", str(tmp_path / "other.json"), *where,
                                   check=False)
    assert poor.returncode == 1 and "chain_refused" in poor.stderr and not (tmp_path / "other.json").exists()


async def test_bad_input_gets_a_clear_error_and_moves_nothing(market, gpt2):
    agent = await market.fund("careless-agent", 5 * LAMPORTS_PER_SOL)
    where = ["--keypair", str(agent.path), "--rpc", market.localnet.url, "--aggregator", market.aggregator.url]
    before = await market.chain.balance(agent.keypair.pubkey())
    bad_model = await asyncio.to_thread(tessera, "generate", "hi", "--model", "xyz", *where, check=False)
    assert bad_model.returncode == 1 and "invalid_request" in bad_model.stderr
    too_dear = await asyncio.to_thread(tessera, "generate", "hi", "--model", gpt2.hex, "--max-lamports", "10", *where, check=False)
    assert too_dear.returncode == 1 and "budget_exceeded" in too_dear.stderr
    unserved = await asyncio.to_thread(tessera, "generate", "hi", "--model", "ab" * 32, *where, check=False)
    assert unserved.returncode == 1 and "no_provider" in unserved.stderr
    no_tokens = await asyncio.to_thread(tessera, "generate", "hi", "--model", "ab" * 32, "--max-new-tokens", "0", *where, check=False)
    assert no_tokens.returncode == 2 and "max-new-tokens" in no_tokens.stderr
    assert await market.chain.balance(agent.keypair.pubkey()) == before


async def test_the_sync_client_is_refused_a_model_nobody_serves_before_anything_is_signed(market, gpt2):
    agent = await market.fund("sync-agent", 5 * LAMPORTS_PER_SOL)

    def use_sync_client():
        from client import AggregatorRefused

        with TesseraSyncClient(market.aggregator.url, market.localnet.url, agent.keypair) as tessera:
            with pytest.raises(BudgetExceeded):
                tessera.generate("hi", model=gpt2.hex, max_lamports=1)
            with pytest.raises(AggregatorRefused) as refused:
                tessera.submit("generate", [{"prompt": "hi"}], "cd" * 32, {"max_new_tokens": 2})
            assert refused.value.status == 503 and refused.value.code == "no_provider"

    before = await market.chain.balance(agent.keypair.pubkey())
    jobs = await market.chain.all(JobAccount, market.address)
    await asyncio.to_thread(use_sync_client)
    assert await market.chain.all(JobAccount, market.address) == jobs
    assert await market.chain.balance(agent.keypair.pubkey()) == before


async def test_a_provider_node_stops_cleanly_on_sigterm(market):  # last: the module's market loses a node
    node = market.nodes[0]
    async with aiohttp.ClientSession() as session:
        async with session.get(node.health_url) as response:
            health = await response.json()
    assert health["status"] == "ok" and health["models"][0]["kind"] == "generate"
    node.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(node.process.wait, 30) == 0
