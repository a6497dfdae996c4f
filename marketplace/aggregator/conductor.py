"""The conductor: decides shards from finished work, asks referees, settles on chain, closes jobs.

It runs as a loop in every aggregator process; rows are claimed with
SKIP LOCKED and every on-chain write is preceded by a read of the chain, so
several processes (or a restarted one) never settle anything twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from sqlalchemy import or_, select, update
from sqlalchemy.orm import load_only
from sqlalchemy.orm.exc import StaleDataError

from marketplace.aggregator import decisions
from marketplace.aggregator import models as m
from marketplace.aggregator.db import flush_versioned
from marketplace.aggregator.service import Aggregator, cache_key
from marketplace.chain import (AssignmentAccount, AssignmentStatus, JobAccount, ProgramError, ProviderAccount,
                              ProviderStatus, Verdict, assignment_address, epoch_address, provider_address)
from marketplace.chain import instructions as ix
from marketplace.chain.instructions import Settlement
from marketplace.chain.packing import PACKET_DATA_SIZE, wire_size
from marketplace.merkle import merkle_root
from marketplace.verification import assignment_verdict
from marketplace.vocabulary import FINAL, JobStatus, Role, SettlementStatus, ShardStatus, TaskStatus, Verification

log = logging.getLogger("tessera.aggregator")
MAX_SETTLE_ENTRIES = 3  # what fits in one transaction: an entry is 129 bytes of data and 3 accounts
MAX_BACKOFF = 60  # seconds a job whose pass keeps failing waits between tries
EPOCH_GATHERING = 15  # seconds after an epoch opens that its settlement waits for every provider's commitment


class Conductor:
    def __init__(self, aggregator: Aggregator) -> None:
        self.agg = aggregator
        self._to_cache: dict[str, m.CachedResult] = {}
        self._work_queued = False  # this pass queued tasks: providers hear of it once they are committed
        self._next_sweep = 0.0

    async def step(self) -> None:
        await self._sweep()
        await self.agg.pipelines.step()
        jobs = await self._due_jobs()
        try:
            await self.decide_shards(list(jobs))
        except Exception:  # one job's data breaks the pass: decide each alone, so only that one waits
            for job, failures in jobs.items():
                await self._isolated(job, failures, self.decide_shards([job]))
        for job, failures in jobs.items():
            await self._isolated(job, failures, self.settle_job(job))

    async def _sweep(self) -> None:
        """What waits on the clock rather than on activity (claim deadlines, silent providers, work nobody may take,
        pending vouchers, expired nonces): once a tick. Activity (a request, a claim, a result) wakes the conductor
        many times a second under load, and these would scan their tables each time."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.agg.config.tick
        await self.agg.expire_claims()
        await self.agg.release_absent()
        await self.agg.fail_unrunnable()
        await self.agg.channels.recover()
        await self.agg.purge_expired()

    async def _due_jobs(self) -> dict[str, int]:
        """Jobs still to settle or close, not backing off after a failed pass, with their count of failed passes."""
        now = int(self.agg.now())
        async with self.agg.sessions() as session:
            rows = (await session.execute(select(m.Job.address, m.Job.failures).where(
                m.Job.status.in_((JobStatus.OPEN, JobStatus.SETTLING, JobStatus.FAILED)), or_(m.Job.retry_at.is_(None), m.Job.retry_at <= now)))).all()
        return dict(rows)

    async def _isolated(self, job: str, failures: int, work) -> None:
        """Runs one job's part of a pass; a failure is that job's alone: noted, and retried with backoff."""
        try:
            await work
        except Exception as exc:
            failures += 1
            delay = min(2 ** failures, MAX_BACKOFF)
            (log.exception if failures == 1 else log.warning)("job %s: pass failed (%d in a row, next try in %d s): %s",
                                                              job, failures, delay, exc)
            await self._note_failure(job, failures, f"{type(exc).__name__}: {exc}"[:256], int(self.agg.now()) + delay)
        else:
            if failures:
                await self._note_failure(job, 0, None, None)

    async def _note_failure(self, job: str, failures: int, error: str | None, retry_at: int | None) -> None:
        async with self.agg.sessions() as session:
            await session.execute(update(m.Job).where(m.Job.address == job).values(
                failures=failures, last_error=error, retry_at=retry_at))
            await session.commit()

    # deciding shards

    async def decide_shards(self, jobs: list[str]) -> None:
        if not jobs:
            return
        # What one pass decided lives on self until its commit: a pass that fails forgets all of it.
        self._to_cache.clear()
        self._work_queued = False
        async with self.agg.sessions() as session:
            shards = (await session.execute(select(m.Shard).where(
                m.Shard.job.in_(jobs), m.Shard.status.in_((ShardStatus.RUNNING, ShardStatus.DISPUTED)),
                m.Shard.job.not_in(select(m.PipelineRun.job))).with_for_update(skip_locked=True)  # driven by pipelines.py
            )).scalars().all()
            if not shards:  # most passes under load: every shard of every due job is decided already
                return
            open_jobs = {j.address: j for j in (await session.execute(select(m.Job).where(
                m.Job.address.in_({s.job for s in shards}), m.Job.status.in_((JobStatus.OPEN, JobStatus.SETTLING))))).scalars()}
            live: dict[tuple[str, int], list[m.Task]] = defaultdict(list)
            # The runs of the shards to decide only: an epoch's decided shards are most of its runs.
            for task in (await session.execute(select(m.Task).join(m.Shard, (m.Shard.job == m.Task.job) & (m.Shard.index == m.Task.shard)).where(
                    m.Task.job.in_(open_jobs), m.Shard.status.in_((ShardStatus.RUNNING, ShardStatus.DISPUTED)),
                    m.Task.status.not_in((TaskStatus.EXPIRED, TaskStatus.DECLINED, TaskStatus.CANCELLED))).order_by(m.Task.id))).scalars():
                live[(task.job, task.shard)].append(task)
            for shard in shards:
                job = open_jobs.get(shard.job)
                if job is None:
                    continue  # closed or cancelled: nothing more is decided
                tasks = live[(shard.job, shard.index)]
                known = decisions.Shard(job.kind, job.model_digest, shard.input_digest, job.params, self.agg.config.tie_tolerance)
                self._apply(session, job, shard, {t.id: t for t in tasks}, decisions.decide(known, [_as_run(t) for t in tasks]))
            try:
                await flush_versioned(session, m.Task)  # before the merges below, whose reads would autoflush row by row
                for entry in self._to_cache.values():
                    await session.merge(entry)
                await session.commit()
            except StaleDataError:  # a task changed under this pass: decide again on the next
                await session.rollback()
            else:
                if self._work_queued:
                    self.agg.work_available.fire()

    def _apply(self, session, job: m.Job, shard: m.Shard, tasks: dict[int, m.Task], decision: decisions.Decision) -> None:
        for run, fault in decision.faults.items():
            tasks[run].fault = fault
        self.agg.cancel([tasks[run] for run in decision.cancel])
        for run, claims in decision.queue.items():
            tasks[run].claims, tasks[run].status = claims, TaskStatus.QUEUED
            self._work_queued = True
        for run, digest in decision.digests.items():
            tasks[run].digest = digest
        if decision.verified is not None:
            run, how = decision.verified
            self._verified(job, shard, tasks[run], how)
        if decision.referee is not None:
            self._ask_referee(session, job, shard, decision.referee)
        if decision.rerun is not None:
            if job.streamed:  # its wrong answer was shown already: a right one later is no answer to that request
                self._refund(shard)
            else:
                self._rerun(session, job, shard, [tasks[run] for run in decision.rerun])

    def _ask_referee(self, session, job: m.Job, shard: m.Shard, request: decisions.RefereeRequest) -> None:
        """A third provider, of none of the excluded owners, checks the claims on this shard."""
        if self._too_late(job):
            return
        shard.status = ShardStatus.DISPUTED
        session.add(m.Task(job=shard.job, shard=shard.index, role=Role.REFEREE, attempt=request.attempt,
                           model_digest=job.model_digest, claims=request.claims, status=TaskStatus.QUEUED,
                           provider_owner=None, excluded_owners=sorted(request.excluded)))
        self._work_queued = True

    def _gathering(self, job: m.Job) -> bool:
        """Whether an epoch opened on chain moments ago still waits for its providers' commitments before settling
        (settled one by one, they would cost a transaction each)."""
        return job.epoch_opened_at is not None and self.agg.now() < job.epoch_opened_at + EPOCH_GATHERING

    def _too_late(self, job: m.Job) -> bool:
        """Past its deadline a job takes no new work: what is undecided then stays unpaid (settle_job)."""
        return self.agg.now() > job.deadline

    def _verified(self, job: m.Job, shard: m.Shard, run: m.Task, how: Verification) -> None:
        shard.status, shard.digest, shard.output, shard.verification = ShardStatus.VERIFIED, run.digest, run.output, how
        shard.decided_at = int(self.agg.now())
        if how not in (Verification.REPLICA_AGREED, Verification.CHECKED, Verification.REFEREE):
            return  # only results a second party confirmed are served to other clients
        key = cache_key(job.model_digest, shard.input_digest, job.params or None)
        self._to_cache[key] = m.CachedResult(key=key, digest=run.digest, output=run.output, created_at=int(self.agg.now()))

    def _rerun(self, session, job: m.Job, shard: m.Shard, runs: list[m.Task]) -> None:
        if self._too_late(job):
            return
        shard.status = ShardStatus.RUNNING
        attempt = max(r.attempt for r in runs) + 1 if runs else 1
        session.add(m.Task(job=shard.job, shard=shard.index, role=Role.PRIMARY, attempt=attempt, model_digest=job.model_digest,
                           excluded_owners=sorted({r.provider_owner for r in runs}), status=TaskStatus.QUEUED, provider_owner=None))
        self._work_queued = True

    def _refund(self, shard: m.Shard) -> None:
        """Nothing more is run for it and nobody is paid for its answer: the escrow it held goes back to the client
        when the job closes (the checks that found it wrong are paid, and the liar slashed, as for any shard)."""
        shard.status, shard.decided_at = ShardStatus.REFUNDED, int(self.agg.now())

    # settling and closing

    async def stop_if_over(self, address: str, job_key: Pubkey) -> bool:
        """A job cancelled on chain, or past its deadline, takes no more work."""
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            expired = self._too_late(job)
            gone = not expired and await self.agg.chain.fetch(JobAccount, job_key) is None
            if not (expired or gone):
                return False
            open_tasks = (await session.execute(select(m.Task).where(
                m.Task.job == address, m.Task.status.in_((TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED))))).scalars().all()
            self.agg.cancel(open_tasks)
            if gone:
                job.status = await self._status_when_gone(session, address)
            await session.commit()
        if gone:
            await self._reconcile(address, job_key)
        return gone

    async def _reconcile(self, address: str, job_key: Pubkey) -> None:
        """A closed job's settlements as its assignments show them: one settled (and the job closed with it) by a
        pass that died before writing it down is recorded from the chain, which keeps each provider's
        assignment until the provider closes it."""
        async with self.agg.sessions() as session:
            owners = set((await session.execute(select(m.Task.provider_owner).where(
                m.Task.job == address, m.Task.provider_owner.is_not(None)))).scalars())
            recorded = {row.provider_owner: set(row.accepted) for row in (await session.execute(
                select(m.Settlement).where(m.Settlement.job == address))).scalars()}
        for owner in sorted(owners):
            provider = provider_address(self.agg.market, Pubkey.from_string(owner))[0]
            assignment = await self.agg.chain.fetch(AssignmentAccount, assignment_address(job_key, provider)[0])
            await self._record_missed(address, owner, assignment, recorded)

    @staticmethod
    async def _status_when_gone(session, address: str) -> str:
        """A job whose account is gone: closed once done (by another aggregator, or anyone), or cancelled (or closed
        early) by its client with shards it never got."""
        undecided = (await session.execute(select(m.Shard.index).where(
            m.Shard.job == address, m.Shard.status.not_in((ShardStatus.VERIFIED, ShardStatus.CACHED))))).first()
        return JobStatus.CANCELLED if undecided is not None else JobStatus.CLOSED

    async def serve_cached(self, address: str, job_key: Pubkey) -> None:
        """Cached shards are paid at the market's cache fee; the chain is read first, so never twice. Not past the
        deadline: the program refuses it then (a refund may have left only what pending work can claim)."""
        async with self.agg.sessions() as session:
            if self._too_late(await session.get(m.Job, address)):
                return
            cached = set((await session.execute(select(m.Shard.index).where(
                m.Shard.job == address, m.Shard.status == ShardStatus.CACHED))).scalars())
        if not cached:
            return
        account = await self.agg.chain.fetch(JobAccount, job_key)
        due = cached - account.served_shards if account is not None else set()
        if due:
            market = await self.agg.market_account()
            await self.agg.chain.send([ix.serve_cached(self.agg.verifier.pubkey(), self.agg.market, job_key,
                                                       market.treasury, sorted(due))], [self.agg.verifier])

    async def settle_job(self, address: str) -> None:
        if await self.agg.epochs.advance(address):
            return  # an epoch not yet open on chain: nothing there to settle
        if await self.stop_if_over(address, Pubkey.from_string(address)):
            return
        await self.serve_cached(address, Pubkey.from_string(address))
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            tasks = (await session.execute(select(m.Task).where(m.Task.job == address).options(
                load_only(m.Task.shard, m.Task.role, m.Task.status, m.Task.fault, m.Task.provider_owner, m.Task.digest)))).scalars().all()
            providers = {p.owner: p for p in (await session.execute(select(m.Provider))).scalars()}
        job_key = Pubkey.from_string(address)
        past_deadline = self._too_late(job)
        # What a referee that judged a shard committed: the other half of a slash's evidence.
        referee_digests = {t.shard: bytes.fromhex(t.digest) for t in tasks
                           if t.role == Role.REFEREE and t.status == TaskStatus.DONE and t.fault is False and t.digest is not None}
        tasks = [t for t in tasks if t.role != Role.REFEREE]
        by_owner: dict[str, list[m.Task]] = defaultdict(list)
        for task in tasks:
            if task.provider_owner:
                by_owner[task.provider_owner].append(task)
        async with self.agg.sessions() as session:
            recorded = {row.provider_owner: set(row.accepted) for row in (await session.execute(
                select(m.Settlement).where(m.Settlement.job == address, m.Settlement.status == SettlementStatus.CONFIRMED))).scalars()}
        settlements: list[Settlement] = []
        uncommitted = False  # some provider's work (a liar's too, to be slashed) is not yet committed on chain
        for owner, owned in sorted(by_owner.items()):
            if not past_deadline and all(t.shard in recorded.get(owner, ()) or _in_flight(t) for t in owned):
                continue  # nothing of its could be settled yet: spare the chain a read
            assignment = await self.agg.chain.fetch(
                AssignmentAccount, assignment_address(job_key, Pubkey.from_string(providers[owner].address))[0])
            await self._record_missed(address, owner, assignment, recorded)
            if assignment is None or assignment.status != AssignmentStatus.PENDING:
                uncommitted |= any(t.status == TaskStatus.DONE and t.shard not in recorded.get(owner, ()) for t in owned)
                continue  # nothing on chain to settle (yet, or any more: never twice)
            pending = sorted(assignment.pending_shards)
            undecided = {t.shard for t in owned if t.shard in assignment.pending_shards and _in_flight(t)}
            if undecided and not past_deadline:
                continue  # some of its shards are still running or being verified
            runs = {t.shard: t for t in owned if t.status == TaskStatus.DONE}
            committed = {s: bytes.fromhex(runs[s].digest) for s in pending if s in runs}  # hex checked at intake
            if len(committed) != len(pending) or assignment.results_root != merkle_root([committed[s] for s in pending]):
                committed = None  # its root is not the digests it posted: nothing proves what it committed
            faulty = {s for s in pending if s in runs and runs[s].fault}
            # Past the deadline an undecided shard (a dispute no referee could take) is not paid, nor a fault.
            verdict = assignment_verdict(pending, undecided - faulty, faulty, committed, referee_digests)
            settlements.append(Settlement(Pubkey.from_string(owner), verdict.verdict, verdict.accepted, verdict.evidence))
            if verdict.evidence is not None:
                log.info("job %s: slashing %s for shard %s", address, owner, verdict.evidence.shard)
        if settlements and uncommitted and not past_deadline and self._gathering(job):
            return  # an epoch's providers commit within moments of each other: one settlement for them all
        if settlements and await self._send_settlements(address, job.client, settlements, tasks, recorded):
            return  # its last settlement closed it
        await self._close_if_done(address, job_key)

    async def _record_missed(self, address: str, owner: str, assignment: AssignmentAccount | None,
                             recorded: Mapping[str, set[int]]) -> None:
        """Settled on chain by a pass that died before writing it down: the chain is the record."""
        if assignment is not None and assignment.last_verdict and assignment.paid_shards - recorded.get(owner, set()):
            await self._record(address, [Settlement(Pubkey.from_string(owner), assignment.last_verdict, assignment.paid_shards)])

    async def _send_settlements(self, address: str, client: str, settlements: list[Settlement],
                                tasks: Sequence[m.Task] = (), recorded: Mapping[str, set[int]] | None = None) -> bool:
        """Sends the settlements; the last one also closes the job when it pays the job's last work (one transaction
        less per job). Whether it closed. `tasks`, `recorded`: the job's runs and what was settled before, which tell
        whether any good work would still be unpaid."""
        async with self.agg.sessions() as session:
            quote = (await session.execute(select(m.Quote).where(m.Quote.job == address))).scalar_one()
            final = await self._nothing_more_to_submit(session, address)
        # Revealed only once no provider can still submit: nobody learns early whether its work is checked.
        seed = bytes.fromhex(quote.seed) if final else ix.WITHHELD_SEED
        market = await self.agg.market_account()
        job_key, client_key = Pubkey.from_string(address), Pubkey.from_string(client)
        closing = final and recorded is not None and await self._settles_everything(job_key, settlements, tasks, recorded)
        for slash in (s for s in settlements if s.evidence is not None):
            await self.agg.chain.send([ix.slash(self.agg.verifier.pubkey(), self.agg.market, job_key, client_key,
                                                market.treasury, slash.provider_owner, slash.accepted, slash.evidence)],
                                      [self.agg.verifier])
            self.agg.stake_changed(slash.provider_owner)
            await self._record(address, [slash])
        rest = [s for s in settlements if s.evidence is None]
        # A settle without entries still reveals the seed when only slashes were left.
        starts = range(0, max(len(rest), 1 if final else 0), MAX_SETTLE_ENTRIES)
        for start in starts:
            chunk = rest[start:start + MAX_SETTLE_ENTRIES]
            instructions = [ix.settle(self.agg.verifier.pubkey(), self.agg.market, job_key, client_key, market.treasury, seed, chunk)]
            last = start == starts[-1]
            if last and closing:
                close = await self._closing(job_key, client_key)
                if wire_size([*instructions, close], [self.agg.verifier]) <= PACKET_DATA_SIZE:
                    instructions.append(close)
                else:  # an epoch's close names every channel it pays back: it goes alone, right after
                    closing = False
            try:
                sent = await self.agg.chain.send(instructions, [self.agg.verifier])
            except ProgramError:
                if not (last and closing):
                    raise
                log.warning("job %s: closing with its last settlement was refused; settling alone", address)
                closing = False  # the chain moved since it was read: the job closes on a later pass
                sent = await self.agg.chain.send(instructions[:1], [self.agg.verifier])
            await self._record(address, chunk)
            if last and closing:
                await self._mark_closed(address, str(sent.signature))
        return closing

    async def _settles_everything(self, job_key: Pubkey, settlements: list[Settlement], tasks: Sequence[m.Task],
                                  recorded: Mapping[str, set[int]]) -> bool:
        """Whether these settlements leave the job with every shard paid, nothing pending and no good work unpaid: then
        the program lets anyone close it, so the last settlement may close it too."""
        account = await self.agg.chain.fetch(JobAccount, job_key)
        if account is None or account.pending_assignments != len(settlements):
            return False
        paid = {str(s.provider_owner): set(recorded.get(str(s.provider_owner), ())) | s.accepted for s in settlements}
        if len(account.paid_shards.union(*paid.values())) != account.shard_count:
            return False
        return all(t.shard in paid.get(t.provider_owner, recorded.get(t.provider_owner, set()))
                   for t in tasks if t.fault is False and t.provider_owner)

    async def _nothing_more_to_submit(self, session, address: str) -> bool:
        """Past the deadline, or every shard decided and no task handed out still open."""
        if self._too_late(await session.get(m.Job, address)):
            return True
        return not any(await self._open_work(session, address))

    @staticmethod
    async def _open_work(session, address: str) -> tuple[bool, bool]:
        """Whether some shard of the job is still undecided, and whether some task handed out is still open."""
        undecided = (await session.execute(select(m.Shard.index).where(
            m.Shard.job == address, m.Shard.status.not_in(FINAL)))).first()
        open_task = (await session.execute(select(m.Task.id).where(
            m.Task.job == address, m.Task.status.in_((TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED))))).first()
        return undecided is not None, open_task is not None

    async def _record(self, address: str, chunk: list[Settlement]) -> None:
        async with self.agg.sessions() as session:
            for s in chunk:
                row = await session.get(m.Settlement, (address, str(s.provider_owner)))
                if row is None:
                    session.add(m.Settlement(job=address, provider_owner=str(s.provider_owner), verdict=int(s.verdict),
                                             accepted=sorted(s.accepted), status=SettlementStatus.CONFIRMED))
                else:  # a later round: what it was paid for accumulates
                    row.verdict, row.accepted, row.status = int(s.verdict), sorted(set(row.accepted) | s.accepted), SettlementStatus.CONFIRMED
                provider = await session.get(m.Provider, str(s.provider_owner))
                if s.verdict == Verdict.SLASH and provider is not None:  # a stranger may never have registered here
                    provider.faults += 1
            job = await session.get(m.Job, address)
            if job.status not in (JobStatus.CLOSED, JobStatus.CANCELLED):  # a closed job's records may come late
                job.status = JobStatus.SETTLING
            await session.commit()

    async def _close_if_done(self, address: str, job_key: Pubkey) -> None:
        async with self.agg.sessions() as session:
            undecided, open_tasks = await self._open_work(session, address)
            failed = (await session.execute(select(m.Shard.index).where(
                m.Shard.job == address, m.Shard.status.in_((ShardStatus.FAILED, ShardStatus.REFUNDED))))).first() is not None
            settled = {r.provider_owner: set(r.accepted) for r in (await session.execute(
                select(m.Settlement).where(m.Settlement.job == address))).scalars()}
            good_work = (await session.execute(select(m.Task).where(
                m.Task.job == address, m.Task.role != Role.REFEREE, m.Task.fault.is_(False)))).scalars().all()
        past_deadline = self.agg.now() > await self._deadline(address)
        if (undecided and not past_deadline) or open_tasks:
            return
        # Good work not yet committed and paid keeps the job open until its deadline, unless
        # its provider can no longer commit it (slashed below the minimum, or paused).
        unpaid = {t.provider_owner for t in good_work if t.shard not in settled.get(t.provider_owner, set())}
        if unpaid and not past_deadline and any([await self._can_commit(owner) for owner in unpaid]):
            return
        account = await self.agg.chain.fetch(JobAccount, job_key)
        if account is None:  # closed already (by us before a crash, by its client, or by anyone)
            async with self.agg.sessions() as session:
                await self._mark(address, await self._status_when_gone(session, address))
            return
        if account.pending_assignments:
            # Every round of work this aggregator handed out is settled by now: what is left was
            # committed by someone never given work here.
            await self._settle_strangers(address, account)
            return  # closed on a later pass
        if len(account.paid_shards) < account.shard_count and account.deadline >= self.agg.now():
            if failed:  # nothing more will be run: its client may close it now and take the rest back
                await self._mark(address, JobStatus.FAILED)
            return
        sent = await self.agg.chain.send([await self._closing(job_key, account.client)], [self.agg.verifier])
        await self._mark_closed(address, str(sent.signature))

    async def _closing(self, job_key: Pubkey, client: Pubkey) -> Instruction:
        """close_job, or an epoch job's (Epochs.closing)."""
        if client != epoch_address(job_key)[0]:
            return ix.close_job(job_key, client)
        return await self.agg.epochs.closing(job_key)

    async def _settle_strangers(self, address: str, account: JobAccount) -> None:
        """Rejects rounds committed on this job by providers never given work on it (a griefer's, locking the job): unpaid,
        and not slashed, since no referee judged them and a slash needs that evidence."""
        async with self.agg.sessions() as session:
            known = set((await session.execute(select(m.Task.provider_owner).where(m.Task.job == address))).scalars())
        strangers = []
        for _, assignment in await self.agg.chain.all(AssignmentAccount, Pubkey.from_string(address)):
            if assignment.status != AssignmentStatus.PENDING:
                continue
            provider = await self.agg.chain.fetch(ProviderAccount, assignment.provider)
            if provider is not None and str(provider.owner) not in known:
                strangers.append(Settlement(provider.owner, Verdict.REJECT, frozenset()))
        if strangers:
            log.warning("job %s: rejecting %s for rounds of work nobody gave them", address, [str(s.provider_owner) for s in strangers])
            await self._send_settlements(address, str(account.client), strangers)

    async def _can_commit(self, owner: str) -> bool:
        account = await self.agg.chain.fetch(ProviderAccount, provider_address(self.agg.market, Pubkey.from_string(owner))[0])
        market = await self.agg.market_account()
        return account is not None and account.status == ProviderStatus.ACTIVE and account.stake >= market.min_stake

    async def _deadline(self, address: str) -> int:
        async with self.agg.sessions() as session:
            return (await session.get(m.Job, address)).deadline

    async def _mark(self, address: str, status: str) -> None:
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            job.status = status
            await session.commit()
        if status in (JobStatus.CLOSED, JobStatus.CANCELLED):
            await self.agg.pipelines.forget(address)

    async def _mark_closed(self, address: str, signature: str | None) -> None:
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            job.status, job.close_signature = JobStatus.CLOSED, signature
            await session.commit()
        await self.agg.pipelines.forget(address)


def _in_flight(task: m.Task) -> bool:
    """Still running, or returned and not yet verified."""
    return task.status in (TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED) or (task.status == TaskStatus.DONE and task.fault is None)


def _as_run(task: m.Task) -> decisions.Run:
    return decisions.Run(task.id, task.role, task.status, task.provider_owner, task.digest, task.output, task.fault,
                         task.claims, task.attempt, tuple(task.excluded_owners or ()))
