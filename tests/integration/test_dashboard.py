"""The dashboard page at `/`, rendered by headless Chromium from the live aggregator."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from PIL import Image
from solders.keypair import Keypair

from client import TesseraClient
from tests.integration.market import SOL, prompt_inputs, running_market
from tests.integration.scripted import MODEL_DIGEST
from tests.integration.test_aggregator_market import providers_running

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not __import__("os").environ.get("CI"),
                                reason="chromium is not installed (make test installs it)")


def chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is required in CI (make test installs it)"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=4000", *args], capture_output=True, text=True, timeout=120)


async def test_dashboard_shows_jobs_providers_and_faults(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["honest", "honest", "liar"]) as providers:
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        job = await market.submit_job(client, prompt_inputs(6), {"max_new_tokens": 4})
        await market.wait_for(job)
        async with TesseraClient(market.aggregator_url, market.net.url, client, timeout=60) as agent:
            channel = await agent.open_channel(SOL, withdraw_delay=60)
            paid = await agent.generate("paid by voucher", model=MODEL_DIGEST, max_new_tokens=2)

        status, data = await market.request("GET", "/v1/dashboard")
        assert status == 200
        assert {j["job"]: j["done"] for j in data["jobs"]} == {job: 6, paid.job: 1}
        owners = {p["owner"]: p for p in data["providers"]}
        liar = owners[str(providers[2].owner)]
        assert liar["faults"] >= 1 and liar["reputation"] < 1 and liar["stake"] < 3 * SOL
        assert all(owners[str(p.owner)]["reputation"] == 1.0 for p in providers[:2])
        assert data["faults"] >= 1 and data["shards_per_second"] > 0 and sum(data["verification"].values()) == 7
        assert [(r["job"], r["channel"], r["status"]) for r in data["paid_requests"]] == [(paid.job, str(channel.address), "claimed")]
        assert data["paid_requests_per_second"] > 0

        dom = await asyncio.to_thread(chromium, "--dump-dom", market.aggregator_url + "/")
        assert job in dom.stdout and str(providers[2].owner) in dom.stdout  # rendered by the page's script
        assert str(channel.address) in dom.stdout  # the requests paid by voucher
        shot = tmp_path / "dashboard.png"
        done = await asyncio.to_thread(chromium, f"--screenshot={shot}", "--window-size=1280,900", market.aggregator_url + "/")
        assert shot.exists(), done.stderr
        image = Image.open(shot).convert("RGB")
        assert image.size == (1280, 900)
        colors = image.getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 50  # text, tables and bars, not a blank or error page
        background = image.getpixel((5, 5))
        assert background == (15, 17, 23)  # the page's own background: it rendered, not Chromium's error page
