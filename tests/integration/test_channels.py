"""Agents paying by voucher from a payment channel, against the aggregator over HTTP and localnet: the agent signs
no transaction per request, the claim moves escrow from the channel into the job, what is not spent goes back to
the channel, and vouchers that do not pay (stale, forged, too small, another channel's) are refused with nothing
moved."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client import TesseraClient, TesseraSyncClient
from client.errors import InvalidRequest
from marketplace.aggregator import models as m
from marketplace.aggregator.db import create_engine, sessions
from marketplace.chain import ChannelAccount, JobAccount, job_address
from marketplace.chain import instructions as ix
from marketplace.chain.vouchers import Voucher
from marketplace.digests import input_digest
from marketplace.economics import job_escrow
from marketplace.merkle import merkle_root
from marketplace.messages import sign_message
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, expected_tokens, prompt_inputs, running_market
from tests.integration.scripted import MODEL_DIGEST
from tests.integration.test_aggregator_market import providers_running
from tests.integration.test_client_sdk import once_the_chain_allows

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
            "params": {"max_new_tokens": 2}, "inputs": inputs, "voucher": voucher.to_json()}
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


async def test_requests_whose_claims_come_out_of_order_are_each_paid_from_what_the_agent_authorized(tmp_path):
    """Two requests signed in order (the second voucher authorizing both) reach the claims in the other order: the
    first, behind the second's claim, is paid from the highest voucher held. Forty at once through one channel all
    go through, and the channel pays exactly what the receipts say."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, \
            providers_running(market, ["honest"] * 3):
        async with await agent(market, sol=20) as tessera:
            channel = await tessera.open_channel(10 * SOL, withdraw_delay=60)
            cost = job_escrow(100_000, 1, RAREST_SAMPLING_BPS, 200)
            first, second = (channel.voucher(cost * n) for n in (1, 2))
            status, ahead = await paid_request(market, tessera, second)
            assert status == 201, ahead
            status, behind = await paid_request(market, tessera, first)
            assert status == 201, behind
            assert (await market.chain.fetch(ChannelAccount, channel.address)).claimed == 2 * cost
            channel.authorize(second)
            for job in (ahead["job"], behind["job"]):
                await market.wait_for(job)

            held_at_start = await market.chain.balance(channel.address)
            results = await asyncio.gather(*(tessera.generate(f"concurrent {i}", model=MODEL_DIGEST, max_new_tokens=2)
                                             for i in range(40)))
            assert [r.shards[0].output["token_ids"] for r in results] == [expected_tokens(f"concurrent {i}", 2) for i in range(40)]
            spent = held_at_start - await market.chain.balance(channel.address)
            assert spent == sum(r.receipt.paid for r in results)


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


async def test_the_sync_client_pays_from_a_channel_too(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        wallet = Keypair()
        await market.chain.airdrop(wallet.pubkey(), 10 * SOL)

        def agent_without_a_loop():
            with TesseraSyncClient(market.aggregator_url, market.net.url, wallet, timeout=60) as tessera:
                channel = tessera.open_channel(DEPOSIT, withdraw_delay=60)
                result = tessera.generate("paid from a thread", model=MODEL_DIGEST, max_new_tokens=2)
                return channel, result, tessera.channel_status()

        channel, result, status = await asyncio.to_thread(agent_without_a_loop)
        assert result.shards[0].output["token_ids"] == expected_tokens("paid from a thread", 2)
        assert result.receipt.channel == str(channel.address) == status["channel"]
        assert status["vouchers"][0]["amount"] == result.receipt.voucher


async def test_the_agent_leaves_with_everything_its_channel_did_not_pay(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            wallet = tessera.keypair.pubkey()
            before = await market.chain.balance(wallet)
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=1)
            result = await tessera.generate("one paid request", model=MODEL_DIGEST, max_new_tokens=2)
            await tessera.request_withdraw()
            returned = await once_the_chain_allows(tessera.withdraw, "WithdrawDelayNotElapsed")  # after the delay
            assert await market.chain.fetch(ChannelAccount, channel.address) is None
            # Open, request_withdraw and withdraw were the wallet's only transactions.
            assert before - await market.chain.balance(wallet) == result.receipt.paid + 3 * 5_000
            assert returned > DEPOSIT - result.receipt.paid
            assert await market.chain.fetch(JobAccount, Pubkey.from_string(result.job)) is None
            with pytest.raises(InvalidRequest, match="no payment channel"):
                await tessera.use_channel(channel.authorizer)


async def test_a_claim_that_landed_before_the_aggregator_stopped_is_served_after_it_restarts(tmp_path):
    """The aggregator kept the voucher and the request, its claim landed, and it stopped before it took the request
    in: its next pass finds the job on chain and serves it. A kept voucher whose claim never landed served
    nothing and took nothing."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, providers_running(market, ["honest"]):
        async with await agent(market) as tessera:
            channel = await tessera.open_channel(DEPOSIT, withdraw_delay=60)
            landed, lost = await kept_request(market, channel, "claimed before the stop"), await kept_request(market, channel, "never claimed")
            claim = ix.claim_channel(market.authority.pubkey(), market.address, landed.job_id, landed.voucher,
                                     channel.authorizer.pubkey(), **landed.terms)
            await market.chain.send(claim, [market.authority])  # as the stopped aggregator had sent it
            before = await market.chain.balance(channel.address)
            await market.wait_for(landed.job, timeout=60)  # kept long ago: recovered on the next pass
            _, report = await market.request("GET", f"/v1/jobs/{landed.job}", reader=channel.authorizer)  # the payer reads
            assert report["shards"][0]["output"]["token_ids"] == expected_tokens("claimed before the stop", 2)
            status = {v["job"]: v["status"] for v in (await tessera.channel_status())["vouchers"]}
            assert status == {landed.job: "claimed", lost.job: "unserved"}
            assert await market.chain.balance(channel.address) > before - landed.escrow  # the job's unspent part came back


@dataclass(frozen=True)
class KeptRequest:
    job: str
    job_id: int
    voucher: Voucher
    escrow: int
    terms: dict


async def kept_request(market, channel, prompt: str) -> KeptRequest:
    """What intake keeps before it claims: the voucher and the request, as a stopped aggregator left them."""
    _, quote = await market.request("POST", "/v1/quotes", {"model_digest": MODEL_DIGEST.hex(), "shard_count": 1})
    job = str(job_address(market.address, quote["job_id"])[0])
    inputs = [{"prompt": prompt}]
    paid = (await market.chain.fetch(ChannelAccount, channel.address)).claimed
    voucher = Voucher.sign(channel.authorizer, channel.address, channel.generation, paid + 2 * quote["escrow"])
    engine = create_engine(market.config.db_url)
    try:
        async with sessions(engine)() as session:
            session.add(m.Voucher(job=job, channel=str(channel.address), authorizer=str(channel.authorizer.pubkey()),
                                  generation=channel.generation, amount=voucher.amount, signature=str(voucher.signature),
                                  status="pending", request={"kind": "generate", "params": {"max_new_tokens": 2}, "inputs": inputs},
                                  created_at=int(time.time()) - 3_600))
            await session.commit()
    finally:
        await engine.dispose()
    terms = dict(model_digest=MODEL_DIGEST, input_root=merkle_root([input_digest(i) for i in inputs]),
                 seed_commitment=bytes.fromhex(quote["seed_commitment"]), price_per_shard=quote["price_per_shard"],
                 deadline=quote["deadline"], shard_count=1)
    return KeptRequest(job, quote["job_id"], voucher, quote["escrow"], terms)
