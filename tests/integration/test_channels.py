"""Agents paying by voucher from a payment channel, against the aggregator over HTTP and localnet: the agent signs
no transaction per request, the claim moves escrow from the channel into the job, what is not spent goes back to
the channel, and vouchers that do not pay (stale, forged, too small, another channel's) are refused with nothing
moved."""

from __future__ import annotations

import asyncio

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client import TesseraClient
from client.errors import InvalidRequest
from marketplace.chain import ChannelAccount, JobAccount, job_address
from marketplace.chain.vouchers import Voucher
from marketplace.economics import job_escrow
from marketplace.messages import sign_message
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import MODEL_DIGEST
from tests.integration.test_aggregator_market import providers_running

DEPOSIT = 2 * SOL


async def agent(market, sol: int = 10) -> TesseraClient:
    wallet = Keypair()
    await market.chain.airdrop(wallet.pubkey(), sol * SOL)
    return TesseraClient(market.aggregator_url, market.net.url, wallet, timeout=60)


async def paid_request(market, tessera: TesseraClient, voucher: Voucher, signer: Keypair | None = None) -> tuple[int, dict]:
    """A request paid with a voucher chosen by the test, bypassing the SDK's own."""
    inputs = prompt_inputs(1, str(voucher.amount))
    _, quote = await market.request("POST", "/v1/quotes", {"model_digest": MODEL_DIGEST.hex(), "shard_count": 1})
    job = str(job_address(market.address, quote["job_id"])[0])
    body = {"job_id": quote["job_id"], "seed_commitment": quote["seed_commitment"], "kind": "generate",
            "params": {"max_new_tokens": 2}, "inputs": inputs,
            "voucher": {"channel": str(voucher.channel), "generation": voucher.generation, "amount": voucher.amount,
                        "signature": str(voucher.signature)}}
    message = sign_message(signer or tessera.channel.authorizer, "job", body, job=job)
    return await market.request("POST", "/v1/jobs", message.to_json())


async def test_requests_paid_by_voucher_cost_the_wallet_nothing_and_the_channel_exactly_their_work(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, \
            providers_running(market, ["honest"] * 2):
        async with await agent(market) as tessera:
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=60)
            wallet_after_open = await market.chain.balance(tessera.keypair.pubkey())
            held_at_start = await market.chain.balance(channel.address)
            results = [await tessera.generate([f"paid request {i}", f"and its twin {i}"], model=MODEL_DIGEST,
                                              max_new_tokens=3) for i in range(3)]
            for i, result in enumerate(results):
                assert [s.output["token_ids"] for s in result.shards] == [
                    expected_tokens(f"paid request {i}", 3), expected_tokens(f"and its twin {i}", 3)]
                assert set(result.receipt.signatures) == {"claim_channel", "close_job"}
                assert result.receipt.channel == str(channel.address) and result.receipt.fees == 0
            # Each voucher authorized the request's most on top of the last; the wallet signed nothing.
            vouchers = [r.receipt.voucher for r in results]
            assert vouchers == sorted(vouchers) and vouchers[0] == results[0].receipt.escrowed
            assert await market.chain.balance(tessera.keypair.pubkey()) == wallet_after_open
            # The channel paid exactly what the receipts say: work and fees, the rest came back at close.
            spent = held_at_start - await market.chain.balance(channel.address)
            assert spent == sum(r.receipt.paid for r in results)
            assert all(r.receipt.paid >= 2 * (100_000 + 100_000 * 200 // 10_000) for r in results)
            status = await tessera.channel_status()
            assert [v["status"] for v in status["vouchers"]] == ["claimed"] * 3 and status["open_jobs"] == 0


async def test_vouchers_that_do_not_pay_are_refused_and_move_nothing(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera, await agent(market) as other:
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=60)
            poor = await other.open_channel(1_000, withdraw_delay=60)  # cannot even pay a job's rent
            held = {c.address: await market.chain.balance(c.address) for c in (channel, poor)}
            forger = Keypair()
            cases = [
                (402, "voucher_too_small", channel.voucher(1), channel.authorizer),
                (402, "voucher_signature_invalid", Voucher(channel.address, channel.generation, SOL, forger.sign_message(b"x")),
                 channel.authorizer),
                (402, "voucher_stale", Voucher.sign(channel.authorizer, channel.address, channel.generation + 1, SOL),
                 channel.authorizer),
                (403, "voucher_not_authorizer", Voucher.sign(forger, channel.address, channel.generation, SOL), forger),
                (403, "voucher_not_authorizer", poor.voucher(SOL), channel.authorizer),  # another agent's channel
                (402, "channel_underfunded", poor.voucher(SOL), poor.authorizer),
            ]
            for status_expected, code, voucher, signer in cases:
                status, answer = await paid_request(market, tessera, voucher, signer)
                assert (status, answer["error"]["code"]) == (status_expected, code), answer
            assert {c.address: await market.chain.balance(c.address) for c in (channel, poor)} == held
            # A voucher authorizes its amount in all: replayed once that is paid, it pays nothing more.
            escrow = job_escrow(100_000, 1, RAREST_SAMPLING_BPS, 200)
            exact = channel.voucher(escrow)
            status, first = await paid_request(market, tessera, exact)
            assert status == 201 and first["escrow"] == escrow, first
            status, replayed = await paid_request(market, tessera, exact)
            assert (status, replayed["error"]["code"]) == (402, "voucher_too_small")
            assert (await market.chain.fetch(ChannelAccount, channel.address)).claimed == escrow


async def test_an_unanswered_quote_cannot_be_paid_twice_and_bad_bodies_get_clear_errors(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=60)
            for voucher, code in ([{"channel": "x"}, "bad_request"],
                                  [{"channel": str(channel.address), "generation": -1, "amount": 1, "signature": "1"}, "bad_request"]):
                body = {"job_id": 1, "seed_commitment": "00" * 32, "kind": "generate", "params": {"max_new_tokens": 1},
                        "inputs": [{"prompt": "p"}], "voucher": voucher}
                job = str(job_address(market.address, 1)[0])
                status, answer = await market.request("POST", "/v1/jobs", sign_message(channel.authorizer, "job", body, job=job).to_json())
                assert (status, answer["error"]["code"]) == (400, code)
            status, answer = await market.request("GET", f"/v1/channels/{Keypair().pubkey()}")
            assert (status, answer["error"]["code"]) == (404, "channel_not_found")


async def test_the_agent_leaves_with_everything_its_channel_did_not_pay(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            wallet = tessera.keypair.pubkey()
            before = await market.chain.balance(wallet)
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=1)
            result = await tessera.generate("one paid request", model=MODEL_DIGEST, max_new_tokens=2)
            await tessera.request_withdraw()
            await asyncio.sleep(1.5)  # the delay, on localnet's wall clock
            returned = await tessera.withdraw()
            assert await market.chain.fetch(ChannelAccount, channel.address) is None
            # Open, request_withdraw and withdraw were the wallet's only transactions.
            assert before - await market.chain.balance(wallet) == result.receipt.paid + 3 * 5_000
            assert returned > DEPOSIT - result.receipt.paid
            assert await market.chain.fetch(JobAccount, Pubkey.from_string(result.job)) is None
            with pytest.raises(InvalidRequest, match="no payment channel"):
                await tessera.use_channel(channel.authorizer)
