"""Epoch jobs: the requests of many payment channels served at once and paid together, in one job on chain.

A request paid by voucher joins the filling epoch of its model, kind, parameters and price, and is served at once:
no transaction stands between an agent and its answer. The voucher is kept with it; what a channel owes in epochs
not yet claimed counts against its vouchers and balance as if claimed (payments.check_voucher).

At the epoch's end (its time, or a full job) it takes no more requests; once every shard is decided its shards
are laid out channel by channel, each channel's in the order they came (the contiguous ranges `claim_epoch`
funds), the job is opened on chain and each channel's claim pays its range with the highest voucher held, as few
transactions as the packets hold. Providers commit then: their tasks carry each shard's channel and place, which
survive the layout, and the Epoch account gives each channel's first shard. The conductor settles and closes it
as any job; each channel gets back what its shards did not spend.

Until the layout an epoch's shards are numbered from PROVISIONAL up, in the order they came, so the final indices
(0 up) never collide with them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.signature import Signature
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.aggregator import models as m
from marketplace.aggregator.errors import Conflict, Unavailable
from marketplace.aggregator.reports import epoch_request_revision
from marketplace.aggregator.scheduling import place
from marketplace.chain import EpochAccount, JobAccount, MarketAccount, epoch_address, job_address
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import MAX_SHARDS
from marketplace.chain.packing import pack
from marketplace.chain.vouchers import Voucher
from marketplace.digests import input_digest
from marketplace.merkle import merkle_root
from marketplace.verification import epoch_sampled, seed_commitment
from marketplace.vocabulary import (FINAL, GENERATIVE, OPEN_TASK, EpochState, JobStatus, Role, ShardStatus, TaskStatus,
                                    VoucherStatus)

if TYPE_CHECKING:
    from marketplace.aggregator.service import Aggregator

log = logging.getLogger("tessera.aggregator")
PROVISIONAL = MAX_SHARDS  # an epoch's shards are numbered from here until its layout
MAX_CHANNELS = 16  # claims one Epoch account records
ADMIT_TRIES = 3  # a request racing another for the same places is taken again this often


class _EpochMoved(Exception):
    """The epoch chosen for a request filled or ended before the request took its places: choose again."""


@dataclass(frozen=True)
class Placed:
    """An epoch's shard before its layout: its provisional index, its channel and its place among that channel's."""

    index: int
    channel: str
    seq: int


@dataclass(frozen=True)
class Layout:
    indices: dict[int, int]  # provisional index -> index on chain
    entries: list[tuple[str, int, int]]  # (channel, first shard, shard count), in the order claim_epoch funds them


def lay_out(shards: Iterable[Placed]) -> Layout:
    """Each channel's shards contiguous, in the order of their places; channels in the order their first shard came."""
    by_channel: dict[str, list[Placed]] = {}
    for shard in sorted(shards, key=lambda s: s.index):
        by_channel.setdefault(shard.channel, []).append(shard)
    indices: dict[int, int] = {}
    entries: list[tuple[str, int, int]] = []
    first = 0
    for channel, placed in by_channel.items():
        if sorted(s.seq for s in placed) != list(range(len(placed))):
            raise ValueError(f"channel {channel}'s places in the epoch are not 0 to {len(placed) - 1}")
        indices.update({s.index: first + s.seq for s in placed})
        entries.append((channel, first, len(placed)))
        first += len(placed)
    return Layout(indices, entries)


@dataclass(frozen=True)
class EpochRequest:
    """A paid request on its way into an epoch: checked, with the voucher that pays for it."""

    key: str  # its quote's job address: the client's handle on it
    quote: str  # seed commitment of its quote, used up by it
    model: str
    kind: str
    params: dict | None
    inputs: list[dict]
    streamed: bool
    price_per_shard: int
    voucher: Voucher
    authorizer: Pubkey
    cost: int  # the most it may cost: what its voucher covers


class Epochs:
    def __init__(self, aggregator: Aggregator) -> None:
        self.agg = aggregator
        # One admission at a time in this process: concurrent requests join one epoch rather than each opening one
        # (the database serializes writes anyway; other processes' races end in a retry).
        self._admitting = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.agg.config.epoch_seconds > 0

    async def owed(self, channel: Pubkey, generation: int) -> int:
        """What the channel owes for requests served in epochs and not claimed yet."""
        async with self.agg.sessions() as session:
            owed = (await session.execute(select(func.coalesce(func.sum(m.Voucher.cost), 0)).where(
                m.Voucher.channel == str(channel), m.Voucher.generation == generation,
                m.Voucher.status == VoucherStatus.IN_EPOCH))).scalar_one()
            return int(owed)  # PostgreSQL sums BIGINT as NUMERIC (a Decimal)

    async def admit(self, request: EpochRequest) -> dict:
        """Takes the request into a filling epoch, with its voucher, in one database transaction; it is served from now."""
        for _ in range(ADMIT_TRIES):
            try:
                async with self._admitting:
                    return await self._admit(request)
            except (IntegrityError, _EpochMoved):  # another request took the same places first, or the epoch ended
                continue
        raise Conflict("too many requests raced for places in an epoch: send it again", "epoch_busy")

    async def _admit(self, request: EpochRequest) -> dict:
        channel, n = str(request.voucher.channel), len(request.inputs)
        market = await self.agg.market_account()
        async with self.agg.sessions() as session:
            quote = await session.get(m.Quote, request.quote)
            if quote is None or quote.job is not None:
                raise Conflict(f"quote already used by request {request.key}", "quote_used")
            epoch = await self._filling(session, request, market)
            start = (await session.execute(update(m.Job).where(
                m.Job.address == epoch.address, m.Job.epoch_state == EpochState.FILLING,
                m.Job.shard_count + n <= max(self.agg.config.epoch_shards, n))
                .values(shard_count=m.Job.shard_count + n).returning(m.Job.shard_count))).scalar_one_or_none()
            if start is None:
                raise _EpochMoved
            full = start >= self.agg.config.epoch_shards
            start -= n
            first_seq = (await session.execute(select(func.coalesce(func.max(m.Shard.seq) + 1, 0)).where(
                m.Shard.job == epoch.address, m.Shard.channel == channel))).scalar_one()
            seqs = range(first_seq, first_seq + n)
            epoch_seed = bytes.fromhex((await session.get(m.Quote, epoch.seed_commitment)).seed)
            drawn = set(epoch_sampled(epoch_seed, epoch.address, channel, first_seq + n, epoch.sampling_rate_bps))
            candidates = await self.agg.candidates(session, request.model)
            try:
                placements = place(n, [i for i, seq in enumerate(seqs) if seq in drawn], candidates, request.price_per_shard)
            except ValueError as exc:
                raise Unavailable(f"cannot schedule the request: {exc}") from exc
            session.add_all(m.Shard(job=epoch.address, index=PROVISIONAL + start + i, input=item,
                                    input_digest=input_digest(item).hex(), status=ShardStatus.RUNNING, channel=channel, seq=seqs[i])
                            for i, item in enumerate(request.inputs))
            await session.flush()
            waits = request.kind in GENERATIVE  # a generation replica checks its primary's tokens: it waits for them
            session.add_all(m.Task(job=epoch.address, shard=PROVISIONAL + start + p.shard, role=p.role, attempt=0,
                                   model_digest=request.model, excluded_owners=list(p.excluded), provider_owner=p.owner,
                                   status=TaskStatus.WAITING if waits and p.role == Role.REPLICA else TaskStatus.QUEUED)
                            for p in placements)
            await session.flush()
            quote.job = request.key
            voucher = request.voucher
            session.add(m.Voucher(job=request.key, channel=channel, authorizer=str(request.authorizer),
                                  generation=voucher.generation, amount=voucher.amount, signature=str(voucher.signature),
                                  request={"kind": request.kind, "params": request.params, "inputs": request.inputs,
                                           "streamed": request.streamed},
                                  status=VoucherStatus.IN_EPOCH, created_at=int(self.agg.now()), epoch=epoch.address,
                                  first_seq=first_seq, cost=request.cost))
            await session.commit()
        self.agg.work_available.fire()
        if full:  # it ends now: the conductor seals it at once. Otherwise a pass would find nothing to do, and take
            self.agg.activity.fire()  # the cores from the request's provider as it starts; the epoch ends on the tick
        # Its report's revision as admitted: the client's first long poll waits from it rather than asking at once.
        revision = epoch_request_revision(epoch.status, EpochState.FILLING, VoucherStatus.IN_EPOCH, 0)
        return {"job": request.key, "epoch": epoch.address, "shards": n, "first_seq": first_seq,
                "indices": [PROVISIONAL + start + i for i in range(n)], "tasks": len(placements), "cache_hits": 0,
                "revision": revision}

    async def _filling(self, session, request: EpochRequest, market: MarketAccount) -> m.Job:
        """The filling epoch the request fits (same model, kind, parameters, price and streaming; room for its shards
        and its channel), or a new one."""
        now = int(self.agg.now())
        channel = str(request.voucher.channel)
        candidates = (await session.execute(select(m.Job).where(
            m.Job.epoch_state == EpochState.FILLING, m.Job.model_digest == request.model, m.Job.kind == request.kind,
            m.Job.streamed == request.streamed, m.Job.price_per_shard == request.price_per_shard,
            m.Job.epoch_ends_at > now).order_by(m.Job.created_at))).scalars().all()
        for epoch in candidates:
            if (epoch.params or {}) != (request.params or {}) or epoch.shard_count + len(request.inputs) > self.agg.config.epoch_shards:
                continue
            # A channel already in the epoch is one indexed look; counting its channels reads all its shards, so only
            # a channel joining it pays for that.
            joined = (await session.execute(select(m.Shard.index).where(
                m.Shard.job == epoch.address, m.Shard.channel == channel).limit(1))).first() is not None
            if joined or (await session.execute(select(func.count(m.Shard.channel.distinct())).where(
                    m.Shard.job == epoch.address))).scalar_one() < MAX_CHANNELS:
                return epoch
        job_id = secrets.randbits(63)
        address = str(job_address(self.agg.market, job_id)[0])
        seed = os.urandom(32)
        deadline = now + self.agg.config.epoch_seconds + self.agg.config.job_lifetime
        commitment = seed_commitment(seed).hex()
        session.add(m.Quote(seed_commitment=commitment, seed=seed.hex(), model_digest=request.model, shard_count=MAX_SHARDS,
                            price_per_shard=request.price_per_shard, expires_at=deadline, job=address))
        await session.flush()  # rows are written in the order their foreign keys need (no relationships tell it)
        epoch = m.Job(address=address, client=str(epoch_address(Pubkey.from_string(address))[0]), chain_job_id=job_id,
                      kind=request.kind, model_digest=request.model, params=request.params or {}, shard_count=0,
                      price_per_shard=request.price_per_shard, sampling_rate_bps=market.sampling_rate_bps, deadline=deadline,
                      seed_commitment=commitment, status=JobStatus.OPEN, created_at=now, streamed=request.streamed,
                      epoch_state=EpochState.FILLING, epoch_ends_at=now + int(self.agg.config.epoch_seconds))
        session.add(epoch)
        await session.flush()
        return epoch

    # on its way to the chain

    async def advance(self, address: str) -> bool:
        """Moves an epoch job on towards the chain (sealed, laid out, opened and funded); whether it is still not
        open there, so that the conductor leaves its settlement for later. False for any other job."""
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            state = job.epoch_state
            if state in (None, EpochState.OPEN):
                return False
            if self.agg.now() > job.deadline:
                await self._give_up(session, job)
                return True
            if state == EpochState.FILLING and (job.epoch_ends_at <= self.agg.now()
                                                 or job.shard_count >= self.agg.config.epoch_shards):
                job.epoch_state = state = EpochState.SEALED
                await session.commit()
            if state == EpochState.SEALED and await self._all_decided(session, address):
                await self._lay_out(session, job)
                state = EpochState.LAID_OUT
        if state == EpochState.LAID_OUT:
            await self._open(address)
            return False
        return True

    @staticmethod
    async def _all_decided(session, address: str) -> bool:
        undecided = (await session.execute(select(m.Shard.index).where(
            m.Shard.job == address, m.Shard.status.not_in(FINAL)).limit(1))).first()
        open_task = (await session.execute(select(m.Task.id).where(
            m.Task.job == address, m.Task.status.in_(OPEN_TASK)).limit(1))).first()
        return undecided is None and open_task is None

    async def _lay_out(self, session, job: m.Job) -> None:
        """Renumbers the epoch's shards and tasks as the chain will fund them, in one transaction."""
        placed = [Placed(*row) for row in (await session.execute(select(m.Shard.index, m.Shard.channel, m.Shard.seq).where(
            m.Shard.job == job.address))).all()]
        layout = lay_out(placed)
        moves = [{"epoch": job.address, "old": old, "new": new} for old, new in layout.indices.items()]
        shards, tasks = m.Shard.__table__, m.Task.__table__
        await session.execute(update(shards).where(shards.c.job == bindparam("epoch"), shards.c.index == bindparam("old"))
                              .values(index=bindparam("new")), moves)
        await session.execute(update(tasks).where(tasks.c.job == bindparam("epoch"), tasks.c.shard == bindparam("old"))
                              .values(shard=bindparam("new")), moves)
        job.shard_count, job.epoch_state = len(placed), EpochState.LAID_OUT
        await session.commit()

    async def _open(self, address: str) -> None:
        """Opens the laid-out epoch on chain and claims each channel's range; what landed before is read first, so
        nothing is opened or claimed twice."""
        key = Pubkey.from_string(address)
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            digests = (await session.execute(select(m.Shard.input_digest).where(m.Shard.job == address)
                                             .order_by(m.Shard.index))).scalars().all()
            entries = (await session.execute(select(m.Shard.channel, func.min(m.Shard.index), func.count()).where(
                m.Shard.job == address).group_by(m.Shard.channel).order_by(func.min(m.Shard.index)))).all()
        verifier = self.agg.verifier
        groups: list[list] = []  # each with the channel it claims for (None: the open)
        paying: list[str | None] = []
        if await self.agg.chain.fetch(JobAccount, key) is None:
            paying.append(None)
            groups.append([ix.open_epoch(verifier.pubkey(), self.agg.market, job.chain_job_id,
                                         model_digest=bytes.fromhex(job.model_digest),
                                         input_root=merkle_root([bytes.fromhex(d) for d in digests]),
                                         seed_commitment=bytes.fromhex(job.seed_commitment),
                                         price_per_shard=job.price_per_shard, deadline=job.deadline,
                                         shard_count=job.shard_count)])
            funded = 0
        else:
            epoch = await self.agg.chain.read(EpochAccount, epoch_address(key)[0])
            recorded = [str(e.channel) for e in epoch.account.entries]
            funded = len(recorded)
            if recorded != [channel for channel, _, _ in entries[:funded]]:
                raise Unavailable(f"epoch {address} on chain records other claims than its layout", "epoch_mismatch")
            # Claims that landed though their confirmation did not come: they landed by the slot read.
            await self._mark_claimed(address, recorded, None, epoch.slot)
        for channel, _, count in entries[funded:]:
            voucher, authorizer = await self._paying(Pubkey.from_string(channel))
            paying.append(channel)
            groups.append(ix.claim_epoch(verifier.pubkey(), self.agg.market, key, voucher, authorizer, count))
        for batch in pack(groups, [verifier]):
            landed = await self.agg.chain.send_and_confirm([i for p in batch for i in groups[p]], [verifier])
            await self._mark_claimed(address, [paying[p] for p in batch if paying[p] is not None], landed.signature,
                                     landed.slot)
        async with self.agg.sessions() as session:
            await session.execute(update(m.Job).where(m.Job.address == address).values(
                epoch_state=EpochState.OPEN, epoch_opened_at=int(self.agg.now())))
            await session.commit()
        log.info("epoch %s: opened with %d shards from %d channels", address, len(digests), len(entries))

    async def _paying(self, channel: Pubkey) -> tuple[Voucher, Pubkey]:
        """The voucher a channel's claim uses (the highest held for its generation) and the key that signed it."""
        state = await self.agg.channels.state(channel)
        held = await self.agg.channels.highest(channel, state.account.generation)
        if held is None:
            raise Unavailable(f"no voucher of channel {channel}'s generation {state.account.generation} is held",
                              "voucher_missing")
        return held, state.account.authorizer

    async def _mark_claimed(self, address: str, channels: list[str], signature: Signature | None, slot: int) -> None:
        """The channels' requests in the epoch are claimed, in `slot` (ChannelPayments.owed counts them until the
        channel's view is that recent)."""
        if not channels:
            return
        async with self.agg.sessions() as session:
            await session.execute(update(m.Voucher).where(
                m.Voucher.epoch == address, m.Voucher.channel.in_(channels), m.Voucher.status == VoucherStatus.IN_EPOCH)
                .values(status=VoucherStatus.CLAIMED, claim_slot=slot,
                        claim_signature=None if signature is None else str(signature)))
            await session.commit()

    async def closing(self, key: Pubkey) -> Instruction:
        """close_job for an epoch job: it names the rent payer and the channels its epoch records, which get back what
        their shards did not spend."""
        epoch = await self.agg.chain.fetch(EpochAccount, epoch_address(key)[0])
        return ix.close_epoch_job(key, epoch.payer, [entry.channel for entry in epoch.entries])

    async def _give_up(self, session, job: m.Job) -> None:
        """Past its deadline and never funded in full: no provider can commit its work, so nothing is paid. What
        the chain holds (a job opened with some claims) goes back to its channels and the verifier's rent with it;
        requests whose channel paid nothing stay unpaid."""
        key = Pubkey.from_string(job.address)
        account = await self.agg.chain.fetch(JobAccount, key)
        if account is not None:
            await self.agg.chain.send([await self.closing(key)], [self.agg.verifier])
        self.agg.cancel((await session.execute(select(m.Task).where(
            m.Task.job == job.address, m.Task.status.in_(OPEN_TASK)))).scalars().all())
        await session.execute(update(m.Voucher).where(m.Voucher.epoch == job.address, m.Voucher.status == VoucherStatus.IN_EPOCH)
                              .values(status=VoucherStatus.UNSERVED))
        job.status = JobStatus.CANCELLED
        await session.commit()
        log.warning("epoch %s: never funded before its deadline; closed unpaid", job.address)
