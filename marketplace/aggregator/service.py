"""The aggregator's operations on jobs, providers and work: parse, check against the chain, write rows.

Every state change is a database row first; the conductor (conductor.py)
turns rows into verification work and on-chain settlement.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.ext.asyncio import async_sessionmaker

from marketplace.aggregator import models as m
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.channels import ChannelPayments
from marketplace.aggregator.epochs import Epochs
from marketplace.aggregator.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from marketplace.aggregator.intake import MAX_RESULTS
from marketplace.aggregator.provider_results import ProviderResults, RunningTask
from marketplace.aggregator.outputs import parse_job_request
from marketplace.aggregator.pipelines import Pipelines
from marketplace.aggregator.reports import revision_reader
from marketplace.aggregator.scheduling import Candidate, place, sampled_shards
from marketplace.aggregator.signals import Signal, long_poll
from marketplace.chain import JobAccount, MarketAccount, ProviderAccount, ProviderStatus, job_address, provider_address
from marketplace.chain.client import TesseraChain
from marketplace.digests import input_digest
from marketplace.economics import execution_budget, job_escrow
from marketplace.merkle import merkle_root
from marketplace.model_ids import MODEL_ID, model_ids
from marketplace.pipeline.errors import PipelineError
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.routing import STAGE_FIELD
from marketplace.errors import MessageReplayed
from marketplace.messages import CLOCK_SKEW, SignedMessage, authenticate, parse_authorization
from marketplace.verification import seed_commitment
from marketplace.vocabulary import GENERATIVE, JobStatus, KINDS, Kind, Role, ShardStatus, TaskStatus, Verification

MAX_CLAIM = MAX_RESULTS  # tasks handed out per work request: their results fit one message
PURGE_INTERVAL = 60  # seconds between sweeps of expired nonces
MARKET_TTL = 1.0  # seconds the market's account, once read, is used without reading it again
ROSTER_TTL = 1.0  # seconds the providers' rows, once read, list models and answer quotes (see roster)


def cache_key(model_digest: str, shard_input_digest: str, params: dict | None) -> str:
    return hashlib.sha256(f"{model_digest}:{shard_input_digest}:{sorted((params or {}).items())}".encode()).hexdigest()


class DatabaseReplayGuard:
    """Replay protection shared by every aggregator process: the nonce table's primary key."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions

    async def claim(self, message: SignedMessage) -> bool:
        async with self.sessions() as session:
            if not await self.take(session, message):
                return False
            await session.commit()
        return True

    @staticmethod
    async def take(session, message: SignedMessage) -> bool:
        """Takes the nonce inside the caller's transaction: it is spent only if what the message asked for commits
        with it (a message whose work failed may be sent again; one whose work was done may not). False, a replay,
        leaves the transaction failed: the caller gives it up."""
        session.add(m.Nonce(signer=str(message.signer), nonce=message.nonce, expires_at=message.expires_at))
        try:
            await session.flush()
        except IntegrityError:
            return False
        return True


@dataclass
class Aggregator:
    config: AggregatorConfig
    sessions: async_sessionmaker
    chain: TesseraChain
    verifier: Keypair
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.market = Pubkey.from_string(self.config.market)
        self.nonces = DatabaseReplayGuard(self.sessions)
        self.work_available = Signal()  # tasks were queued: providers waiting for work ask again
        # Something the conductor may act on: results, hand-backs, a new job, or a claim (a provider
        # claims again only once it has committed what it ran, so its round may be settled now).
        self.activity = Signal()
        self.progress = Signal()  # the conductor made a pass: clients waiting on a job look again
        self._next_purge = 0
        self.channels = ChannelPayments(self)  # requests paid by voucher
        self.epochs = Epochs(self)  # paid requests served first, and paid together in epoch jobs
        self.results = ProviderResults(self)  # what providers send about their tasks
        self.pipelines = Pipelines(self)  # jobs on models split over stage providers
        self._market_read: tuple[float, MarketAccount] | None = None  # (monotonic time read, the account)
        self._provider_reads: dict[Pubkey, tuple[float, ProviderAccount | None]] = {}  # the same, per provider
        self._roster: tuple[float, list[m.Provider]] | None = None  # (monotonic time read, the rows)

    async def market_account(self) -> MarketAccount:
        """The Market account, read again once it is MARKET_TTL old: every request reads it, and its terms change
        rarely (the program checks them again in every instruction)."""
        now = time.monotonic()
        if self._market_read is None or now - self._market_read[0] > MARKET_TTL:
            account = await self.chain.fetch(MarketAccount, self.market)
            if account is None:
                raise Unavailable(f"market {self.market} does not exist on {self.chain.url}", "market_missing")
            self._market_read = (now, account)
        return self._market_read[1]

    async def verify(self, message: SignedMessage, kind: str, job: str | None = None) -> None:
        """Signature, purpose, job and expiry first; then the nonce, once, in the shared table."""
        authenticate(message, kind, job=job, now=self.now)
        if not await self.nonces.claim(message):
            raise MessageReplayed(f"nonce {message.nonce} from {message.signer} was already used")

    # quotes and jobs

    async def quote(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise BadRequest("a quote request is {model_digest, shard_count, kind}")
        if unknown := set(body) - {"model_digest", "shard_count", "kind"}:
            raise BadRequest(f"unknown fields in a quote request: {sorted(unknown)}")
        model, count, kind = body.get("model_digest"), body.get("shard_count"), body.get("kind", Kind.GENERATE)
        if not isinstance(model, str) or len(model) != 64 or not all(c in "0123456789abcdef" for c in model):
            raise BadRequest("model_digest must be 64 lowercase hex characters")
        if not isinstance(count, int) or not 1 <= count <= self.config.max_shards:
            raise BadRequest(f"shard_count must be 1 to {self.config.max_shards}")
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {KINDS}")
        serving = [p for p in await self.roster() if model in p.models and self.is_live(p)]
        if not serving:
            raise Unavailable(f"no live provider serves model {model} now", "no_provider")
        market = await self.market_account()
        seed = os.urandom(32)
        commitment = seed_commitment(seed).hex()
        price = self.config.price_per_shard
        if price > market.max_price_per_shard:  # create_job would refuse it: a misconfigured aggregator
            raise Unavailable(f"this aggregator's price of {price:,} lamports per shard is above the market's maximum of "
                              f"{market.max_price_per_shard:,}", "price_above_maximum")
        budget = execution_budget(count, market.sampling_rate_bps)
        escrow = job_escrow(price, count, market.sampling_rate_bps, market.fee_bps)
        now = int(self.now())
        async with self.sessions() as session:
            session.add(m.Quote(seed_commitment=commitment, seed=seed.hex(), model_digest=model, shard_count=count,
                                price_per_shard=price, expires_at=now + self.config.quote_ttl))
            await session.commit()
        return {
            "market": str(self.market), "job_id": secrets.randbits(63), "seed_commitment": commitment,
            "price_per_shard": price, "shard_count": count, "execution_budget": budget, "fee_bps": market.fee_bps,
            "sampling_rate_bps": market.sampling_rate_bps, "escrow": escrow,
            "deadline": now + self.config.job_lifetime, "expires_at": now + self.config.quote_ttl,
        }

    async def intake(self, message: SignedMessage) -> dict:
        """A job its client created on chain, or (with a voucher) one a payment channel pays for."""
        body = message.body
        if isinstance(body, dict) and "voucher" in body:
            return await self.channels.intake(message)
        job_text = body.get("job") if isinstance(body, dict) else None
        if not isinstance(job_text, str):
            raise BadRequest("the body names the job account: {job, kind, params, inputs}")
        await self.verify(message, "job", job=job_text)
        kind, inputs = parse_job_request(body)
        try:
            job_key = Pubkey.from_string(job_text)
        except ValueError as exc:
            raise BadRequest(f"job {job_text!r} is not an address") from exc
        job = await self.chain.fetch(JobAccount, job_key)
        if job is None:
            raise NotFound(f"job {job_text} is not on chain yet: send create_job first", "job_not_on_chain")
        if job.market != self.market or job.client != message.signer:
            raise Forbidden("the job belongs to another market or client", "job_not_yours")
        if job_address(self.market, job.job_id)[0] != job_key:
            raise Unprocessable("the job account is not at its PDA", "job_mismatch")
        return await self.admit(job_text, job, kind, inputs, body.get("params"))

    async def admit(self, job_text: str, job: JobAccount, kind: str, inputs: list[dict], params: dict | None,
                    streamed: bool = False) -> dict:
        """Checks the job on chain against its inputs and quote, then writes its shards and tasks. `streamed`: its
        answers are shown as they are generated, so one found wrong is refunded rather than run again."""
        digests = [input_digest(item) for item in inputs]
        pipeline = None
        if await self.pipelines.is_pipelined(job.model_digest.hex()):
            pipeline = await self.pipelines.plan(job_text, kind, inputs, params, job.model_digest.hex())
        elif any(STAGE_FIELD in item for item in inputs):
            raise BadRequest(f"inputs name stages, but model {job.model_digest.hex()} is not served as a pipeline")
        checks = {
            "shard count": job.shard_count == len(inputs),
            "input root": job.input_root == merkle_root(digests),
            "deadline": job.deadline > self.now(),
        }
        async with self.sessions() as session:
            quote = await session.get(m.Quote, job.seed_commitment.hex())
            if quote is None:
                raise NotFound("no quote has this job's seed commitment: ask for a quote first", "quote_not_found")
            checks["model"] = quote.model_digest == job.model_digest.hex()
            checks["price"] = job.price_per_shard >= quote.price_per_shard
            if not all(checks.values()):
                failed = ", ".join(name for name, ok in checks.items() if not ok)
                raise Unprocessable(f"the job on chain does not match the request: {failed}", "job_mismatch")
            if quote.job == job_text:
                raise Conflict(f"job {job_text} was already submitted", "job_exists")
            if quote.job is not None:
                raise Conflict(f"quote already used by job {quote.job}", "quote_used")
            if pipeline is None:
                plan = await self._plan(session, job_text, bytes.fromhex(quote.seed), job, kind, inputs, params)
            else:  # its stages are driven by the pipeline conductor, not claimed
                plan = {"shards": pipeline[0], "tasks": [], "cache_hits": 0}
            quote.job = job_text
            session.add(m.Job(
                address=job_text, client=str(job.client), chain_job_id=job.job_id, kind=kind,
                model_digest=job.model_digest.hex(), params=params or {}, shard_count=job.shard_count,
                price_per_shard=job.price_per_shard, sampling_rate_bps=job.sampling_rate_bps, deadline=job.deadline,
                seed_commitment=quote.seed_commitment, status=JobStatus.OPEN, created_at=int(self.now()), streamed=streamed,
                cache_hits=sum(1 for s in plan["shards"] if s.status == ShardStatus.CACHED),
            ))
            await session.flush()
            session.add_all(plan["shards"])
            if pipeline is not None:
                session.add(pipeline[1])
            await session.flush()
            session.add_all(plan["tasks"])
            try:
                await session.commit()
            except IntegrityError as exc:
                raise Conflict(f"job {job_text} was already submitted", "job_exists") from exc
        self.work_available.fire()
        self.activity.fire()
        return {"job": job_text, "shards": job.shard_count, "cache_hits": plan["cache_hits"], "tasks": len(plan["tasks"])}

    async def _plan(self, session, job_text, seed, job: JobAccount, kind, inputs, params) -> dict:
        model = job.model_digest.hex()
        shards, fresh = [], []
        for index, item in enumerate(inputs):
            digest = input_digest(item).hex()
            cached = await session.get(m.CachedResult, cache_key(model, digest, params))
            shards.append(m.Shard(job=job_text, index=index, input=item, input_digest=digest,
                                  status=ShardStatus.CACHED if cached else ShardStatus.RUNNING, digest=cached.digest if cached else None,
                                  output=cached.output if cached else None, verification=Verification.CACHE if cached else None,
                                  decided_at=int(self.now()) if cached else None))
            if not cached:
                fresh.append(index)
        tasks = []
        if fresh:
            candidates = await self.candidates(session, model)
            budget = execution_budget(job.shard_count, job.sampling_rate_bps)
            sampled = [s for s in sampled_shards(seed, job_text, job.shard_count, job.sampling_rate_bps, budget) if s in fresh]
            try:
                placements = place(len(fresh), [fresh.index(s) for s in sampled], candidates, job.price_per_shard)
            except ValueError as exc:
                raise Unavailable(f"cannot schedule the job: {exc}") from exc
            for p in placements:
                # A generation replica checks the primary's tokens (one teacher-forced pass),
                # so it waits for them; an embedding replica recomputes and can start now.
                waits = p.role == Role.REPLICA and kind in GENERATIVE
                tasks.append(m.Task(job=job_text, shard=fresh[p.shard], role=p.role, attempt=0, model_digest=model,
                                    excluded_owners=list(p.excluded), provider_owner=p.owner,
                                    status=TaskStatus.WAITING if waits else TaskStatus.QUEUED))
        return {"shards": shards, "tasks": tasks, "cache_hits": len(inputs) - len(fresh)}

    async def candidates(self, session, model: str) -> list[Candidate]:
        """Registered providers with the model, active on chain, at or above the minimum stake, with the work
        already waiting for each."""
        rows = (await session.execute(select(m.Provider))).scalars().all()
        min_stake = (await self.market_account()).min_stake
        backlog = dict((await session.execute(select(m.Task.provider_owner, func.count()).where(
            m.Task.status.in_((TaskStatus.QUEUED, TaskStatus.CLAIMED)), m.Task.provider_owner.is_not(None))
            .group_by(m.Task.provider_owner))).all())
        candidates = []
        for row in rows:
            if model not in row.models or not self.is_live(row):
                continue
            account = await self._provider_account(Pubkey.from_string(row.address))
            if account is None or account.status != ProviderStatus.ACTIVE or account.stake < min_stake:
                continue
            speed = row.busy_seconds / row.tasks_done if row.tasks_done else 0.0
            candidates.append(Candidate(row.owner, row.capacity, account.free_stake, speed, row.timeouts,
                                        backlog.get(row.owner, 0)))
        return candidates

    async def _provider_account(self, address: Pubkey) -> ProviderAccount | None:
        """A provider's account for placing work, read again once it is MARKET_TTL old: every request places work,
        and a stake read a moment late only shifts where work goes (the program checks the stake at commit)."""
        now = time.monotonic()
        read = self._provider_reads.get(address)
        if read is None or now - read[0] > MARKET_TTL:
            read = self._provider_reads[address] = (now, await self.chain.fetch(ProviderAccount, address))
        return read[1]

    def cancel(self, tasks: Sequence[m.Task]) -> None:
        """Cancels these runs (written at the caller's commit); what they report is no longer taken on trust."""
        for task in tasks:
            task.status = TaskStatus.CANCELLED
        self.results.forget(task.id for task in tasks)

    def stake_changed(self, owner: Pubkey) -> None:
        """A provider's stake moved (it was slashed): its account is read again before work is next placed on it, so
        a stake fallen below the minimum gets none (it could not commit it, and its job would wait until its
        deadline)."""
        self._provider_reads.pop(provider_address(self.market, owner)[0], None)

    # providers and their work

    async def roster(self) -> list[m.Provider]:
        """Every registered provider's row, read again once ROSTER_TTL old or when one registers or leaves through
        this process: a paid request lists the models, is quoted and asks whether its model is pipelined, each a
        read of every row otherwise. Detached copies: read them, never write them. Work is placed on fresh rows."""
        now = time.monotonic()
        if self._roster is None or now - self._roster[0] > ROSTER_TTL:
            async with self.sessions() as session:
                rows = list((await session.execute(select(m.Provider))).scalars())
                session.expunge_all()
            self._roster = (now, rows)
        return self._roster[1]

    async def served_models(self) -> dict[str, tuple[str, int]]:
        """Models live providers serve: readable id (model_ids) -> (digest, when first registered)."""
        live = [p for p in await self.roster() if self.is_live(p)]
        names: dict[str, set[str]] = {}
        created: dict[str, int] = {}
        for provider in live:
            for digest in provider.models:
                names.setdefault(digest, set()).add((provider.model_names or {}).get(digest, digest))
                created[digest] = min(created.get(digest, provider.registered_at), provider.registered_at)
        return {name: (digest, created[digest]) for name, digest in model_ids(names).items()}

    def is_live(self, provider: m.Provider) -> bool:
        """Heard from lately and not stopping: only such a provider is given work."""
        return provider.left_at is None and provider.last_seen >= self.now() - self.config.provider_timeout

    async def register(self, message: SignedMessage) -> dict:
        await self.verify(message, "register")
        body = message.body
        models, capacity, endpoint = body.get("models"), body.get("capacity"), body.get("endpoint")
        if not isinstance(models, list) or not models or not all(isinstance(x, str) and len(x) == 64 for x in models):
            raise BadRequest("models must be a list of 64-hex model digests")
        if not isinstance(capacity, int) or not 1 <= capacity <= 1024 or not isinstance(endpoint, str) or len(endpoint) > 128:
            raise BadRequest("capacity must be 1 to 1024 and endpoint a URL of at most 128 characters")
        names = body.get("names") or {}
        if not isinstance(names, dict) or not all(digest in models and isinstance(name, str) and MODEL_ID.fullmatch(name)
                                                  for digest, name in names.items()):
            raise BadRequest("names maps some of the models' digests to readable ids (1 to 64 of a-z, 0-9, '.', '_', '-')")
        stages = body.get("stages") or {}
        if not isinstance(stages, dict) or not all(digest in models and isinstance(span, str) and _is_span(span)
                                                   for digest, span in stages.items()):
            raise BadRequest('stages maps some of the models\' digests to the span of layers served, such as "10-19"')
        address = provider_address(self.market, message.signer)[0]
        account = await self.chain.fetch(ProviderAccount, address)
        market = await self.market_account()
        if account is None or account.owner != message.signer:
            raise Forbidden(f"no Provider account for {message.signer} in market {self.market}: register on chain first", "provider_unknown")
        if account.stake < market.min_stake or account.status != ProviderStatus.ACTIVE:
            raise Forbidden("the provider is paused or below the market's minimum stake", "provider_inactive")
        now = int(self.now())
        async with self.sessions() as session:
            row = await session.get(m.Provider, str(message.signer))
            if row is None:
                row = m.Provider(owner=str(message.signer), address=str(address), registered_at=now, tasks_done=0,
                                 timeouts=0, faults=0, busy_seconds=0.0)
                session.add(row)
            row.endpoint, row.models, row.capacity, row.last_seen = endpoint, sorted(set(models)), capacity, now
            row.model_names = names
            row.stages = stages or None
            row.left_at = None
            await session.commit()
        self._roster = None
        return {"provider": str(address), "owner": str(message.signer), "stake": account.stake, "free_stake": account.free_stake}

    async def heartbeat(self, message: SignedMessage) -> dict:
        """A node's sign of life, sent while it runs long batches too; its work stays with it."""
        provider = await self._note_provider(message, "heartbeat", last_seen=int(self.now()))
        return {"owner": provider.owner, "provider_timeout": self.config.provider_timeout}

    async def leave(self, message: SignedMessage) -> dict:
        """A node stopping says so: work placed on it and not claimed moves to others at once."""
        provider = await self._note_provider(message, "leave", left_at=int(self.now()))
        self._roster = None
        return {"owner": provider.owner, "released": await self.release_absent()}

    async def _note_provider(self, message: SignedMessage, kind: str, **values: int) -> m.Provider:
        await self.verify(message, kind)
        async with self.sessions() as session:
            provider = await self._registered(session, str(message.signer))
            for name, value in values.items():
                setattr(provider, name, value)
            await session.commit()
        return provider

    @staticmethod
    async def _registered(session, owner: str) -> m.Provider:
        provider = await session.get(m.Provider, owner)
        if provider is None:
            raise Forbidden("register with POST /v1/providers first", "provider_unknown")
        return provider

    async def release_absent(self) -> int:
        """Work placed on providers that stopped or went silent, and not claimed, goes back to the queue.
        (What they claimed moves at its claim deadline: a silent node may still be running it.)"""
        now = int(self.now())
        async with self.sessions() as session:
            gone = select(m.Provider.owner).where(or_(
                m.Provider.left_at.is_not(None), m.Provider.last_seen < now - self.config.provider_timeout))
            tasks = (await session.execute(select(m.Task).where(m.Task.provider_owner.in_(gone), m.Task.status == TaskStatus.QUEUED)
                                           .with_for_update(skip_locked=True))).scalars().all()
            for task in tasks:
                # Unplaced, it may go to anyone with the model but the owners of the shard's other runs.
                task.provider_owner = None
                task.excluded_owners = sorted(set(task.excluded_owners or []) | set(await self._other_owners(session, task)))
            try:
                await session.commit()
            except StaleDataError:  # claimed meanwhile: the next pass looks again
                return 0
        if tasks:
            self.work_available.fire()
        return len(tasks)

    async def fail_unrunnable(self) -> int:
        """Queued work no live provider may take. A replica is dropped (its shard goes unchecked). A primary kept
        only from the owner of its own replica takes that owner back, the replica dropped. A shard every other
        eligible provider declined (too large, model missing) fails now instead of at the deadline."""
        async with self.sessions() as session:
            live = [p for p in (await session.execute(select(m.Provider))).scalars() if self.is_live(p)]
            waiting = (await session.execute(select(m.Task).where(
                m.Task.status == TaskStatus.QUEUED, m.Task.provider_owner.is_(None), m.Task.role != Role.REFEREE))).scalars().all()
            changed = 0
            for task in waiting:
                if self._eligible(live, task.model_digest, task.excluded_owners or []):
                    continue
                if task.role == Role.PRIMARY:
                    runs = (await session.execute(select(m.Task).where(
                        m.Task.job == task.job, m.Task.shard == task.shard, m.Task.id != task.id))).scalars().all()
                    checking = [r for r in runs if r.role == Role.REPLICA and r.status in (TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED)]
                    # Declined, late or wrong; and whoever already checked it (a shard's runs need two owners).
                    refused = {r.provider_owner for r in runs if r.role == Role.PRIMARY or r.status == TaskStatus.DONE}
                    if self._eligible(live, task.model_digest, refused):
                        self.cancel(checking)
                        task.excluded_owners = sorted(refused)
                        changed += 1
                        continue
                    if not any(r.status == TaskStatus.DECLINED for r in runs):
                        continue  # its runs failed or went silent: a provider may yet come back for it
                    shard = await session.get(m.Shard, (task.job, task.shard))
                    shard.status = ShardStatus.FAILED
                self.cancel([task])
                changed += 1
            try:
                await session.commit()
            except StaleDataError:  # claimed meanwhile: the next pass looks again
                return 0
        if changed:
            self.activity.fire()
            self.work_available.fire()
        return changed

    @staticmethod
    def _eligible(live: list[m.Provider], model: str, excluded) -> bool:
        return any(model in p.models and p.owner not in excluded for p in live)

    async def purge_expired(self) -> None:
        """Nonces past their expiry can no longer be replayed (expired messages are refused), and quotes no job
        used expire: both go."""
        now = int(self.now())
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL
        async with self.sessions() as session:
            await session.execute(delete(m.Nonce).where(m.Nonce.expires_at < now - CLOCK_SKEW))
            await session.execute(delete(m.Quote).where(m.Quote.job.is_(None), m.Quote.expires_at < now - CLOCK_SKEW))
            await session.commit()

    async def may_read(self, job: str, authorization: str | None) -> bool:
        """Outputs belong to the job's client and the providers that ran it: True for their signed read.
        No header reads the public report; a header that does not verify is refused (401)."""
        if authorization is None:
            return False
        message = parse_authorization(authorization)
        authenticate(message, "read", job=job, now=self.now)
        signer = str(message.signer)
        async with self.sessions() as session:
            client = (await session.execute(select(m.Job.client).where(m.Job.address == job))).scalar_one_or_none()
            # A job a channel paid for has the channel as client, and a request served in an epoch has no job of its
            # own: the channel's authorizer, who asked, reads it.
            payer = (await session.execute(select(m.Voucher.authorizer).where(m.Voucher.job == job))).scalar_one_or_none()
            if client is None and payer is None:
                raise NotFound(f"no job {job}", "job_not_found")
            ran = (await session.execute(select(m.Task.id).where(
                m.Task.job == job, m.Task.provider_owner == signer).limit(1))).first() is not None
        if signer not in (client, payer) and not ran:
            raise Forbidden(f"{signer} is neither the client of job {job} nor one of its providers", "not_a_participant")
        return True

    def wait_seconds(self, value: Any) -> float:
        """How long a long poll may wait: what the caller asked for, up to the configured cap."""
        try:
            seconds = float(value)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"wait must be a number of seconds, not {value!r}") from exc
        if not 0 <= seconds <= 3600:  # also refuses NaN
            raise BadRequest("wait must be 0 to 3600 seconds")
        return min(seconds, self.config.long_poll)

    async def wait_for_progress(self, job: str, revision: str, wait: float) -> None:
        """Returns once the job's revision differs from `revision`, or after `wait` seconds."""
        await long_poll(self.progress, await revision_reader(self.sessions, job), lambda current: current != revision, wait)

    async def claim_work(self, message: SignedMessage) -> dict:
        await self.verify(message, "claim")
        self.activity.fire()
        owner = str(message.signer)
        limit = message.body.get("max_tasks", MAX_CLAIM)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_CLAIM:
            raise BadRequest(f"max_tasks must be 1 to {MAX_CLAIM}")
        wait = self.wait_seconds(message.body.get("wait", self.config.long_poll))
        return {"tasks": await long_poll(self.work_available, lambda: self._claim(owner, limit), bool, wait)}

    async def _claim(self, owner: str, limit: int) -> list[dict]:
        now = int(self.now())
        async with self.sessions() as session:
            provider = await session.get(m.Provider, owner)
            if provider is None:
                raise Forbidden("register with POST /v1/providers before asking for work", "provider_unknown")
            provider.last_seen = now
            if provider.left_at is not None:
                await session.commit()
                return []  # it said it is stopping: no new work until it registers again
            # Claims are at-least-once: work this provider claimed and has not returned is
            # handed again (its answer may have been lost), then work placed on it, then
            # work anyone with the model may take. Providers deduplicate by task id.
            # Each task with what runs it (its job's kind and parameters, its shard's input) in one statement: this
            # look stands between a paid request and its first token.
            query = (
                select(m.Task, m.Job.kind, m.Job.params, m.Job.model_digest, m.Shard.input, m.Shard.channel, m.Shard.seq)
                .join(m.Job, m.Job.address == m.Task.job)
                .join(m.Shard, (m.Shard.job == m.Task.job) & (m.Shard.index == m.Task.shard))
                .where(m.Task.model_digest.in_(provider.models), or_(
                    (m.Task.provider_owner == owner) & m.Task.status.in_((TaskStatus.QUEUED, TaskStatus.CLAIMED)),
                    m.Task.provider_owner.is_(None) & (m.Task.status == TaskStatus.QUEUED)))
                .order_by(m.Task.provider_owner.is_(None), m.Task.id)
                .limit(limit * 4)
                .with_for_update(of=m.Task, skip_locked=True)
            )
            rows = [row for row in (await session.execute(query)).all() if owner not in (row.Task.excluded_owners or [])]
            payloads = []
            for task, kind, params, job_model, shard_input, channel, seq in rows[:limit]:
                self.results.know(task.job, kind, job_model, params)
                if task.status == TaskStatus.QUEUED:  # written at the commit, where a lost race is caught
                    task.status, task.provider_owner = TaskStatus.CLAIMED, owner
                    task.claimed_at, task.claim_deadline = now, now + self.config.claim_timeout
                payloads.append({
                    "task": task.id, "job": task.job, "shard": task.shard, "role": task.role, "kind": kind,
                    "model_digest": task.model_digest, "params": params, "input": shard_input,
                    "claims": task.claims, "deadline": task.claim_deadline,
                    # An epoch's shard: what gives its index on chain once the epoch is open (see epochs.py).
                    **({"epoch": {"channel": channel, "seq": seq}} if channel else {}),
                })
            try:
                await session.commit()
            except StaleDataError:  # another process took some of them first: ask again
                return []
        for payload in payloads:
            if payload["role"] == Role.PRIMARY:
                self.results.handed(RunningTask(payload["task"], payload["job"], payload["shard"], owner, True),
                                    payload["deadline"])
        return payloads

    @staticmethod
    async def _other_owners(session, task: m.Task) -> list[str]:
        """Owners of the shard's other runs: a replica must stay on another owner than them."""
        return list((await session.execute(select(m.Task.provider_owner).where(
            m.Task.job == task.job, m.Task.shard == task.shard, m.Task.id != task.id,
            m.Task.provider_owner.is_not(None)))).scalars())

    async def hand_on(self, session, task: m.Task, status: str) -> None:
        """Closes `task` as expired (a fault) or declined (not one) and queues it for another provider."""
        task.status, task.fault = status, (True if status == TaskStatus.EXPIRED else None)  # a decline is no fault, nor work
        others = await self._other_owners(session, task)
        session.add(m.Task(job=task.job, shard=task.shard, role=task.role, attempt=task.attempt + 1,
                           model_digest=task.model_digest, claims=task.claims, status=TaskStatus.QUEUED,
                           excluded_owners=sorted(set(task.excluded_owners or []) | {task.provider_owner} | set(others)),
                           provider_owner=None))

    async def expire_claims(self) -> int:
        """Claimed work past its deadline goes to someone else; the late provider is noted."""
        now = int(self.now())
        async with self.sessions() as session:
            late = (await session.execute(
                select(m.Task).where(m.Task.status == TaskStatus.CLAIMED, m.Task.claim_deadline < now).with_for_update(skip_locked=True)
            )).scalars().all()
            for task in late:
                await session.execute(update(m.Provider).where(m.Provider.owner == task.provider_owner)
                                      .values(timeouts=m.Provider.timeouts + 1))
                await self.hand_on(session, task, TaskStatus.EXPIRED)
            try:
                await session.commit()
            except StaleDataError:  # results arrived meanwhile: nothing was late after all
                return 0
        if late:
            self.work_available.fire()
        return len(late)


def _is_span(text: str) -> bool:
    try:
        Span.parse(text)
    except PipelineError:
        return False
    return True
