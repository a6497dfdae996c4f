"""Requests paid by voucher from payment channels: intake (check, keep, claim, take in), finishing what a stopped
intake left, and a channel's report. The voucher checks themselves are pure (payments.py).

With epochs (the default) a paid request is checked against this market's view of the channel (channel_views.py)
and served at once; it is claimed with its epoch's other requests (epochs.py). Without, or for a model served as a
pipeline, it is claimed at once: the claim opens its job on chain, funded by the channel (never through the
aggregator), and the request is served as any job. Everything is kept before it is sent, so a restart finishes
it either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.aggregator import models as m
from marketplace.aggregator.channel_views import VIEW_SECONDS, ChannelViews
from marketplace.aggregator.epochs import EpochRequest
from marketplace.aggregator.errors import AggregatorError, BadRequest, Conflict, NotFound, PaymentRequired, Unprocessable
from marketplace.aggregator.outputs import parse_job_request
from marketplace.aggregator.payments import ChannelState, check_voucher, parse_voucher
from marketplace.chain import ChainError, ChannelAccount, JobAccount, ProgramError, job_address
from marketplace.chain import instructions as ix
from marketplace.chain.client import Landed
from marketplace.chain.program import account_size
from marketplace.chain.vouchers import Voucher
from marketplace.digests import input_digest
from marketplace.economics import job_escrow
from marketplace.merkle import merkle_root
from marketplace.messages import SignedMessage
from marketplace.pipeline.routing import STAGE_FIELD
from marketplace.vocabulary import VoucherStatus

if TYPE_CHECKING:
    from marketplace.aggregator.service import Aggregator

log = logging.getLogger("tessera.aggregator")
VOUCHER_RECOVERY_AGE = 120  # seconds: a voucher pending longer was left by an intake that stopped
RECOVERY_INTERVAL = 10  # seconds between looks for such vouchers: conductor passes come far more often


class ChannelPayments:
    def __init__(self, aggregator: Aggregator) -> None:
        self.agg = aggregator
        self._locks: dict[Pubkey, asyncio.Lock] = {}
        self._next_recovery = 0.0
        self.views = ChannelViews(self.state)
        self._rent = 0  # a channel account's rent-exempt minimum, once read

    async def intake(self, message: SignedMessage) -> dict:
        """A request paid by voucher: checked off chain, kept, then claimed: the claim opens the job on chain, funded
        by the channel (never through this aggregator), and only then is it served.

        Body: {job_id, seed_commitment (from the quote), kind, params, inputs, voucher}, signed by the channel's
        authorizer."""
        body = message.body
        if unknown := set(body) - {"job_id", "seed_commitment", "kind", "params", "inputs", "voucher"}:
            raise BadRequest(f"unknown fields in a paid request: {sorted(unknown)}")
        job_id, commitment = body.get("job_id"), body.get("seed_commitment")
        if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 <= job_id < 2**63:
            raise BadRequest("job_id must be the quote's job id")
        if not isinstance(commitment, str):
            raise BadRequest("seed_commitment must be the quote's")
        job_text = str(job_address(self.agg.market, job_id)[0])
        await self.agg.verify(message, "job", job=job_text)
        kind, inputs = parse_job_request(body)
        return await self.pay(job_id, commitment, kind, inputs, body.get("params"), parse_voucher(body["voucher"]),
                              message.signer)

    async def pay(self, job_id: int, commitment: str, kind: str, inputs: list[dict], params: dict | None,
                  voucher: Voucher, signer: Pubkey | None, model: str | None = None, streamed: bool = False) -> dict:
        """Checks the voucher, keeps it with the request, claims it and takes the request in. `signer`: who signed
        the request, which must be the channel's authorizer; None where the voucher's own signature is the only
        one (an HTTP 402 payment: then a voucher already used is refused, as a signed message's nonce refuses a
        replay). Either way the claim uses the highest voucher held, so requests claimed out of order all pay. `model`: the digest the request asked for, which its quote must be for.
        `streamed`: its answer is shown as it is generated (see Aggregator.admit)."""
        job_text = str(job_address(self.agg.market, job_id)[0])
        async with self.agg.sessions() as session:
            quote = await session.get(m.Quote, commitment)
        if quote is None:
            raise NotFound("no quote has this seed commitment: ask for a quote first", "quote_not_found")
        if quote.job is not None or await self._voucher_for(job_text) is not None:
            raise Conflict(f"quote already used by job {quote.job or job_text}", "quote_used")
        if quote.shard_count != len(inputs) or quote.expires_at < self.agg.now() or model not in (None, quote.model_digest):
            raise Unprocessable("the request does not match its quote (shard count, model), or the quote expired",
                                "quote_mismatch")
        market = await self.agg.market_account()
        cost = job_escrow(quote.price_per_shard, len(inputs), market.sampling_rate_bps, market.fee_bps)
        if self.agg.epochs.enabled and not await self.agg.pipelines.is_pipelined(quote.model_digest):
            return await self._pay_in_epoch(job_text, quote, kind, inputs, params, streamed, voucher, signer, cost)
        request = {"kind": kind, "params": params, "inputs": inputs, "streamed": streamed}
        async with self.lock(voucher.channel):
            state = await self.state(voucher.channel)
            authorizer = state.account.authorizer
            if signer is None and await self._seen(voucher):  # nothing but the voucher authenticates this request
                raise Conflict("this voucher already paid for a request: sign a new one", "voucher_replayed")
            paying = await self._accepted(state, voucher, signer, cost, await self._job_rent())
            async with self.agg.sessions() as session:  # kept, with the request, before the claim: a restart finishes it
                session.add(m.Voucher(job=job_text, channel=str(voucher.channel), authorizer=str(authorizer),
                                      generation=voucher.generation, amount=voucher.amount, signature=str(voucher.signature),
                                      request=request, status=VoucherStatus.PENDING, created_at=int(self.agg.now()),
                                      cost=cost))
                try:
                    await session.commit()
                except IntegrityError as exc:
                    raise Conflict(f"job {job_text} is already paid for", "quote_used") from exc
            claim = ix.claim_channel(
                self.agg.verifier.pubkey(), self.agg.market, job_id, paying, authorizer,
                model_digest=bytes.fromhex(quote.model_digest), input_root=merkle_root([input_digest(i) for i in inputs]),
                seed_commitment=bytes.fromhex(quote.seed_commitment), price_per_shard=quote.price_per_shard,
                deadline=int(self.agg.now()) + self.agg.config.job_lifetime, shard_count=len(inputs))
            try:
                claimed = await self.agg.chain.send_and_confirm(claim, [self.agg.verifier])
            except ProgramError as exc:
                await self._settle_voucher(job_text, VoucherStatus.UNSERVED)
                raise PaymentRequired(f"the program refused the claim: {exc}", "claim_refused") from exc
            await self._landed(job_text, claimed)  # still pending (not taken in), but no longer owed beyond the chain
        # Taken in, then marked: a stop in between leaves it pending, and the next pass finds it taken in.
        job = await self.agg.chain.fetch(JobAccount, Pubkey.from_string(job_text))
        admitted = await self.agg.admit(job_text, job, kind, inputs, params, streamed)
        await self._settle_voucher(job_text, VoucherStatus.CLAIMED)
        return {**admitted, "voucher": voucher.amount, "escrow": job.escrow, "claim_signature": str(claimed.signature),
                "channel": str(voucher.channel)}

    async def _pay_in_epoch(self, key: str, quote: m.Quote, kind: str, inputs: list[dict], params: dict | None,
                            streamed: bool, voucher: Voucher, signer: Pubkey | None, cost: int) -> dict:
        """Checks the voucher against this market's view of the channel and what its requests may still take from it,
        and serves the request in an epoch at once: it is claimed with the epoch's other requests (epochs.py)."""
        if any(STAGE_FIELD in item for item in inputs):
            raise BadRequest(f"inputs name stages, but model {quote.model_digest} is not served as a pipeline")
        # A request served now is claimed up to this long after, and the view it is checked on may be VIEW_SECONDS old.
        delay_needed = self.agg.config.epoch_seconds + self.agg.config.job_lifetime + VIEW_SECONDS

        async def checked(state: ChannelState) -> ChannelState:
            account = state.account
            if account.withdrawable_at:
                raise PaymentRequired("the channel's owner asked to withdraw: it takes no new requests", "channel_closing")
            if account.withdraw_delay < delay_needed:
                raise PaymentRequired(f"requests are claimed when their epoch ends, up to {delay_needed:,.0f} s after "
                                      f"they are served: a channel paying here needs a withdrawal delay at least that long",
                                      "channel_delay_short")
            await self._accepted(state, voucher, signer, cost, 0)
            return state

        async with self.lock(voucher.channel):
            if signer is None and await self._seen(voucher):
                raise Conflict("this voucher already paid for a request: sign a new one", "voucher_replayed")
            state = await self.views.check(voucher.channel, checked)
            admitted = await self.agg.epochs.admit(EpochRequest(
                key, quote.seed_commitment, quote.model_digest, kind, params, inputs, streamed, quote.price_per_shard,
                voucher, state.account.authorizer, cost))
        return {**admitted, "voucher": voucher.amount, "escrow": cost, "claim_signature": None,
                "channel": str(voucher.channel)}

    async def _accepted(self, state: ChannelState, voucher: Voucher, signer: Pubkey | None, cost: int,
                        job_rent: int) -> Voucher:
        """check_voucher against what this market holds and may still take from the channel: the voucher to claim
        with. `signer` None: the voucher's own signature is the only one (an HTTP 402 payment)."""
        generation = state.account.generation
        held = await self.highest(voucher.channel, generation)
        owed = await self.owed(voucher.channel, generation, state.slot)
        return check_voucher(state, self.agg.market, voucher, signer or state.account.authorizer, cost, job_rent,
                             held, owed)

    async def recover(self) -> None:
        """Finishes what intake left pending when it stopped (or could not yet take the request in): a claim that
        landed is served, or, past its deadline, its job closed unserved (all back to the channel); one that never
        landed moved nothing."""
        if self.agg.now() < self._next_recovery:
            return
        self._next_recovery = self.agg.now() + RECOVERY_INTERVAL
        async with self.agg.sessions() as session:
            pending = (await session.execute(select(m.Voucher).where(
                m.Voucher.status == VoucherStatus.PENDING, m.Voucher.created_at < self.agg.now() - VOUCHER_RECOVERY_AGE))).scalars().all()
        for voucher in pending:
            try:
                await self._recover(voucher)
            except (AggregatorError, ChainError) as exc:  # tried again next pass; the others go on
                log.warning("voucher for job %s stays pending: %s", voucher.job, exc)

    async def _recover(self, voucher: m.Voucher) -> None:
        # A claim found here landed by the slot it was read at: kept as its claim's slot, the cost counts until the
        # channel's view is that recent. (A job already closed landed longer ago than any view is kept.)
        read = await self.agg.chain.read(JobAccount, Pubkey.from_string(voucher.job))
        job, seen_at = (read.account, read.slot) if read else (None, None)
        async with self.agg.sessions() as session:
            admitted = await session.get(m.Job, voucher.job) is not None
        if job is None:
            await self._settle_voucher(voucher.job, VoucherStatus.CLAIMED if admitted else VoucherStatus.UNSERVED)
        elif admitted:
            await self._settle_voucher(voucher.job, VoucherStatus.CLAIMED, claim_slot=seen_at)
        elif job.deadline > self.agg.now():
            request = voucher.request
            await self.agg.admit(voucher.job, job, request["kind"], request["inputs"], request["params"],
                                 request.get("streamed", False))
            await self._settle_voucher(voucher.job, VoucherStatus.CLAIMED, claim_slot=seen_at)
        else:
            await self.agg.chain.send([ix.close_job(Pubkey.from_string(voucher.job), job.client)], [self.agg.verifier])
            await self._settle_voucher(voucher.job, VoucherStatus.UNSERVED)

    async def report(self, channel_text: str) -> dict:
        """A channel as the chain shows it, with the requests this market served on its vouchers."""
        try:
            channel = Pubkey.from_string(channel_text)
        except ValueError as exc:
            raise BadRequest(f"{channel_text!r} is not an address") from exc
        state = await self.state(channel)
        async with self.agg.sessions() as session:
            vouchers = (await session.execute(select(m.Voucher).where(m.Voucher.channel == channel_text)
                                              .order_by(m.Voucher.created_at, m.Voucher.amount))).scalars().all()
        account = state.account
        return {"channel": channel_text, "owner": str(account.owner), "authorizer": str(account.authorizer),
                "generation": account.generation, "claimed": account.claimed, "free": state.free,
                "withdrawable_at": account.withdrawable_at or None, "open_jobs": account.open_jobs,
                "owed": await self.agg.epochs.owed(channel, account.generation),  # served in epochs, not claimed yet
                "vouchers": [{"job": v.job, "amount": v.amount, "status": v.status, "claim_signature": v.claim_signature,
                              **({"epoch": v.epoch} if v.epoch else {})}
                             for v in vouchers if v.generation == account.generation]}

    def lock(self, channel: Pubkey) -> asyncio.Lock:
        """One claim at a time per channel in this process: vouchers are cumulative, so claims land in order."""
        return self._locks.setdefault(channel, asyncio.Lock())

    async def state(self, channel: Pubkey) -> ChannelState:
        """The channel as the chain shows it now (one read; requests paid in epochs use its view instead)."""
        read = await self.agg.chain.read(ChannelAccount, channel)
        if read is None:
            raise NotFound(f"no payment channel at {channel}", "channel_not_found")
        self._rent = rent = await self.agg.chain.rent_exempt_minimum(account_size("Channel"))
        return ChannelState(channel, read.account, read.lamports - rent, read.slot)

    def decoded(self, channel: Pubkey, account: Account | None, slot: int) -> ChannelState | None:
        """A channel's state from its account as a subscription sent it (channel_watch.py); None if it is no channel
        of this program any more (closed). Only channels already read come this way, so the rent is known."""
        if account is None or account.owner != self.agg.chain.program_id or len(account.data) != account_size("Channel"):
            return None  # closed: its lamports went back to its owner
        return ChannelState(channel, ChannelAccount.decode(bytes(account.data)), account.lamports - self._rent, slot)

    async def owed(self, channel: Pubkey, generation: int, seen_slot: int) -> int:
        """What this market's requests may still take from the channel beyond what the chain showed at `seen_slot`,
        each at its request's most: a voucher whose claim has not landed yet (kept before its claim, or served in an
        epoch) and one whose claim landed after that slot. A claim landing while this is read is counted twice,
        never missed."""
        voucher = m.Voucher
        async with self.agg.sessions() as session:
            owed = (await session.execute(select(func.coalesce(func.sum(voucher.cost), 0)).where(
                voucher.channel == str(channel), voucher.generation == generation, voucher.status != VoucherStatus.UNSERVED,
                or_(voucher.claim_slot > seen_slot,
                    and_(voucher.claim_slot.is_(None),
                         voucher.status.in_([VoucherStatus.PENDING, VoucherStatus.IN_EPOCH])))))).scalar_one()
            return int(owed)  # PostgreSQL sums BIGINT as NUMERIC (a Decimal)

    async def _job_rent(self) -> int:
        return await self.agg.chain.rent_exempt_minimum(account_size("Job"))

    async def highest(self, channel: Pubkey, generation: int) -> Voucher | None:
        """The highest voucher this market holds for the channel's generation (each was checked when it came)."""
        async with self.agg.sessions() as session:
            row = (await session.execute(select(m.Voucher).where(
                m.Voucher.channel == str(channel), m.Voucher.generation == generation)
                .order_by(m.Voucher.amount.desc()).limit(1))).scalar_one_or_none()
        if row is None:
            return None
        return Voucher(channel, row.generation, row.amount, Signature.from_string(row.signature))

    async def _seen(self, voucher: Voucher) -> bool:
        """Whether a request was already paid with this very voucher (amounts only grow: each is signed once)."""
        async with self.agg.sessions() as session:
            return (await session.execute(select(m.Voucher.job).where(
                m.Voucher.channel == str(voucher.channel), m.Voucher.generation == voucher.generation,
                m.Voucher.amount == voucher.amount).limit(1))).first() is not None

    async def _landed(self, job: str, claim: Landed) -> None:
        async with self.agg.sessions() as session:
            await session.execute(update(m.Voucher).where(m.Voucher.job == job).values(
                claim_signature=str(claim.signature), claim_slot=claim.slot))
            await session.commit()

    async def _voucher_for(self, job: str) -> m.Voucher | None:
        async with self.agg.sessions() as session:
            return await session.get(m.Voucher, job)

    async def _settle_voucher(self, job: str, status: str, claim_slot: int | None = None) -> None:
        values = {"status": status} if claim_slot is None else {"status": status, "claim_slot": claim_slot}
        async with self.agg.sessions() as session:
            await session.execute(update(m.Voucher).where(m.Voucher.job == job).values(**values))
            await session.commit()
