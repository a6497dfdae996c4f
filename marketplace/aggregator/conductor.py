"""The conductor: decides shards from finished work, asks referees, settles on chain, closes jobs.

It runs as a loop in every aggregator process; rows are claimed with
SKIP LOCKED and every on-chain write is preceded by a read of the chain, so
several processes (or a restarted one) never settle anything twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from solders.pubkey import Pubkey
from sqlalchemy import or_, select, update
from sqlalchemy.orm import load_only
from sqlalchemy.orm.exc import StaleDataError

from marketplace.aggregator import models as m
from marketplace.aggregator.db import flush_versioned
from marketplace.aggregator.errors import BadRequest
from marketplace.aggregator.outputs import parse_checks, parse_params, result_digest
from marketplace.aggregator.service import Aggregator, cache_key
from marketplace.chain import (AssignmentAccount, AssignmentStatus, JobAccount, ProviderAccount, ProviderStatus,
                              Verdict, assignment_address, provider_address)
from marketplace.chain import instructions as ix
from marketplace.chain.instructions import Settlement
from marketplace.digests import embeddings_agree
from marketplace.merkle import merkle_root
from marketplace.verification import CheckOutcome, assignment_verdict, check_digest, check_generation
from marketplace.vocabulary import GENERATIVE, JobStatus, Role, SettlementStatus, ShardStatus, TaskStatus, Verification

log = logging.getLogger("tessera.aggregator")
MAX_SETTLE_ENTRIES = 9  # what fits in one transaction's accounts
MAX_BACKOFF = 60  # seconds a job whose pass keeps failing waits between tries


class Conductor:
    def __init__(self, aggregator: Aggregator) -> None:
        self.agg = aggregator
        self._to_cache: dict[str, m.CachedResult] = {}
        self._work_queued = False  # this pass queued tasks: providers hear of it once they are committed

    async def step(self) -> None:
        await self.agg.expire_claims()
        await self.agg.release_absent()
        await self.agg.fail_unrunnable()
        jobs = await self._due_jobs()
        try:
            await self.decide_shards(list(jobs))
        except Exception:  # one job's data breaks the pass: decide each alone, so only that one waits
            for job, failures in jobs.items():
                await self._isolated(job, failures, self.decide_shards([job]))
        for job, failures in jobs.items():
            await self._isolated(job, failures, self.settle_job(job))
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

    def _honest_output(self, job: m.Job, shard: m.Shard, task: m.Task) -> bool:
        """The output arrived, is well-formed, and is what the committed digest says."""
        if task.output is None or task.digest is None:
            return False
        try:
            params = parse_params(job.kind, job.params or None)
            return result_digest(job.kind, bytes.fromhex(job.model_digest), shard.input, params, task.output).hex() == task.digest
        except BadRequest:
            return False

    async def decide_shards(self, jobs: list[str]) -> None:
        if not jobs:
            return
        # What one pass decided lives on self until its commit: a pass that fails forgets all of it.
        self._to_cache.clear()
        self._work_queued = False
        async with self.agg.sessions() as session:
            shards = (await session.execute(select(m.Shard).where(
                m.Shard.job.in_(jobs), m.Shard.status.in_((ShardStatus.RUNNING, ShardStatus.DISPUTED))).with_for_update(skip_locked=True)
            )).scalars().all()
            open_jobs = {j.address: j for j in (await session.execute(select(m.Job).where(
                m.Job.address.in_({s.job for s in shards}), m.Job.status.in_((JobStatus.OPEN, JobStatus.SETTLING))))).scalars()}
            live: dict[tuple[str, int], list[m.Task]] = defaultdict(list)
            for task in (await session.execute(select(m.Task).where(
                    m.Task.job.in_(open_jobs), m.Task.status.not_in((TaskStatus.EXPIRED, TaskStatus.DECLINED, TaskStatus.CANCELLED))).order_by(m.Task.id))).scalars():
                live[(task.job, task.shard)].append(task)
            for shard in shards:
                job = open_jobs.get(shard.job)
                if job is None:
                    continue  # closed or cancelled: nothing more is decided
                tasks = live[(shard.job, shard.index)]
                if job.kind in GENERATIVE:
                    self._decide_generation(session, job, shard, tasks)
                else:
                    self._decide_embedding(session, job, shard, tasks)
            for entry in self._to_cache.values():
                await session.merge(entry)
            try:
                await flush_versioned(session, m.Task)
                await session.commit()
            except StaleDataError:  # a task changed under this pass: decide again on the next
                await session.rollback()
            else:
                if self._work_queued:
                    self.agg.work_available.fire()

    def _decide_embedding(self, session, job: m.Job, shard: m.Shard, tasks: list[m.Task]) -> None:
        """Primary and (if sampled) a recomputing replica; a referee recomputes when they differ."""
        if any(t.status != TaskStatus.DONE for t in tasks):
            return
        runs = [t for t in tasks if t.role != Role.REFEREE and t.fault is None]
        referee = next((t for t in tasks if t.role == Role.REFEREE and t.fault is None), None)
        if referee is not None:
            self._judge(job, shard, runs, referee, session)
            return
        for run in runs:
            if not self._honest_output(job, shard, run):
                run.fault = True  # a digest without (its) output
        good = [r for r in runs if not r.fault]
        if len(good) == len(runs) and len({r.digest for r in good}) == 1:
            for run in good:
                run.fault = False
            self._verified(session, job, shard, good[0], Verification.REPLICA_AGREED if len(good) > 1 else Verification.UNSAMPLED)
        elif len(good) == 1 and len(runs) == 2:  # the other run was unusable: no second opinion
            good[0].fault = False
            self._verified(session, job, shard, good[0], Verification.UNCHECKED)
        elif len(good) == 2:  # two well-formed, different answers: ask a third provider
            self._ask_referee(session, job, shard, [{"owner": r.provider_owner, "output": r.output} for r in good],
                              {r.provider_owner for r in good})
        else:  # nothing usable: run it again elsewhere
            self._rerun(session, job, shard, runs)

    def _decide_generation(self, session, job: m.Job, shard: m.Shard, tasks: list[m.Task]) -> None:
        """Primary, then (if sampled) a checking replica, then (if they disagree) a referee check."""
        primary = next((t for t in tasks if t.role == Role.PRIMARY and t.fault is None), None)
        replica = next((t for t in tasks if t.role == Role.REPLICA and t.fault is None), None)
        referee = next((t for t in tasks if t.role == Role.REFEREE and t.fault is None), None)
        if primary is None or primary.status != TaskStatus.DONE:
            return
        if not self._honest_output(job, shard, primary):
            primary.fault = True  # a digest without (its) output
            if replica is not None:
                replica.status = TaskStatus.CANCELLED
            self._rerun(session, job, shard, [primary])
            return
        if replica is None:
            primary.fault = False
            self._verified(session, job, shard, primary, Verification.UNSAMPLED)
            return
        claim = [{"owner": primary.provider_owner, "output": primary.output, "digest": primary.digest}]
        if replica.status == TaskStatus.WAITING:
            replica.claims, replica.status = claim, TaskStatus.QUEUED
            self._work_queued = True
            return
        if replica.status != TaskStatus.DONE:
            return
        finding = self._check_outcome(job, primary, replica.output)
        if finding is None or check_digest(bytes.fromhex(primary.digest), finding).hex() != replica.digest:
            replica.fault = True  # no usable check, or not the check it committed to
            primary.fault = False
            self._verified(session, job, shard, primary, Verification.UNCHECKED)
            return
        if finding is not CheckOutcome.INCONSISTENT:
            primary.fault = replica.fault = False
            self._verified(session, job, shard, primary, Verification.CHECKED)
            return
        if referee is None:
            self._ask_referee(session, job, shard, claim, {primary.provider_owner, replica.provider_owner})
            return
        if referee.status != TaskStatus.DONE:
            return
        verdict = self._check_outcome(job, primary, referee.output)
        if verdict is None:
            referee.fault = True
            self._ask_another_referee(session, job, shard, referee)
            return
        referee.fault = False
        # Its finding as a checking replica would commit it: a slash's evidence against whichever run it contradicts.
        referee.digest = check_digest(bytes.fromhex(primary.digest), verdict).hex()
        if verdict is CheckOutcome.INCONSISTENT:  # the checker was right: the primary lied
            primary.fault, replica.fault = True, False
            self._rerun(session, job, shard, [primary, replica])
        else:  # the checker accused an honest primary
            primary.fault, replica.fault = False, True
            self._verified(session, job, shard, primary, Verification.REFEREE)

    def _check_outcome(self, job: m.Job, primary: m.Task, output) -> CheckOutcome | None:
        try:
            [checks] = parse_checks(output, 1)
        except BadRequest:
            return None
        return check_generation(primary.output["token_ids"], checks, self.agg.config.tie_tolerance).outcome

    def _judge(self, job: m.Job, shard: m.Shard, runs: list[m.Task], referee: m.Task, session) -> None:
        claims = referee.claims or []
        try:
            if job.kind in GENERATIVE:
                checks = parse_checks(referee.output, len(claims))
                outcomes = [check_generation(c["output"]["token_ids"], k, self.agg.config.tie_tolerance).outcome
                            for c, k in zip(claims, checks)]
            else:
                vector = referee.output["vector"]
                outcomes = [CheckOutcome.CONSISTENT if embeddings_agree(c["output"]["vector"], vector)
                            else CheckOutcome.INCONSISTENT for c in claims]
        except (BadRequest, KeyError, TypeError):
            referee.fault = True  # an unusable check: ask another referee
            self._ask_another_referee(session, job, shard, referee)
            return
        referee.fault = False
        if job.kind not in GENERATIVE:  # what it computed: a slash's evidence against a run that disagreed
            referee.digest = result_digest(job.kind, bytes.fromhex(job.model_digest), shard.input,
                                           parse_params(job.kind, job.params or None), referee.output).hex()
        verdicts = {c["owner"]: o for c, o in zip(claims, outcomes)}
        for run in runs:
            run.fault = verdicts.get(run.provider_owner) is CheckOutcome.INCONSISTENT
        good = [r for r in runs if not r.fault]
        if good:
            self._verified(session, job, shard, good[0], Verification.REFEREE)
        else:
            self._rerun(session, job, shard, runs)

    def _ask_referee(self, session, job: m.Job, shard: m.Shard, claims: list[dict], excluded: set[str], attempt: int = 0) -> None:
        """A third provider, of none of the `excluded` owners, checks the `claims` on this shard."""
        if self._too_late(job):
            return
        shard.status = ShardStatus.DISPUTED
        session.add(m.Task(job=shard.job, shard=shard.index, role=Role.REFEREE, attempt=attempt, model_digest=job.model_digest,
                           claims=claims, status=TaskStatus.QUEUED, provider_owner=None, excluded_owners=sorted(excluded)))
        self._work_queued = True

    def _ask_another_referee(self, session, job: m.Job, shard: m.Shard, referee: m.Task) -> None:
        """A referee whose check was unusable is replaced, and may not take it again."""
        self._ask_referee(session, job, shard, referee.claims or [],
                          set(referee.excluded_owners or []) | {referee.provider_owner}, referee.attempt + 1)

    def _too_late(self, job: m.Job) -> bool:
        """Past its deadline a job takes no new work: what is undecided then stays unpaid (settle_job)."""
        return self.agg.now() > job.deadline

    def _verified(self, session, job: m.Job, shard: m.Shard, run: m.Task, how: str) -> None:
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
            for task in open_tasks:
                task.status = TaskStatus.CANCELLED
            if gone:
                job.status = await self._status_when_gone(session, address)
            await session.commit()
            return gone

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
        for owner, owned in sorted(by_owner.items()):
            if not past_deadline and all(t.shard in recorded.get(owner, ()) or _in_flight(t) for t in owned):
                continue  # nothing of its could be settled yet: spare the chain a read
            assignment = await self.agg.chain.fetch(
                AssignmentAccount, assignment_address(job_key, Pubkey.from_string(providers[owner].address))[0])
            if assignment is not None and assignment.last_verdict and assignment.paid_shards - recorded.get(owner, set()):
                # Settled on chain by a pass that died before writing it down: the chain is the record.
                await self._record(address, [Settlement(Pubkey.from_string(owner), assignment.last_verdict, assignment.paid_shards)])
            if assignment is None or assignment.status != AssignmentStatus.PENDING:
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
        if settlements:
            await self._send_settlements(address, job.client, settlements)
        await self._close_if_done(address, job_key)

    async def _send_settlements(self, address: str, client: str, settlements: list[Settlement]) -> None:
        async with self.agg.sessions() as session:
            quote = (await session.execute(select(m.Quote).where(m.Quote.job == address))).scalar_one()
            final = await self._nothing_more_to_submit(session, address)
        # Revealed only once no provider can still submit: nobody learns early whether its work is checked.
        seed = bytes.fromhex(quote.seed) if final else ix.WITHHELD_SEED
        market = await self.agg.market_account()
        job_key, client_key = Pubkey.from_string(address), Pubkey.from_string(client)
        for slash in (s for s in settlements if s.evidence is not None):
            await self.agg.chain.send([ix.slash(self.agg.verifier.pubkey(), self.agg.market, job_key, client_key,
                                                market.treasury, slash.provider_owner, slash.accepted, slash.evidence)],
                                      [self.agg.verifier])
            await self._record(address, [slash])
        rest = [s for s in settlements if s.evidence is None]
        # A settle without entries still reveals the seed when only slashes were left.
        for start in range(0, max(len(rest), 1 if final else 0), MAX_SETTLE_ENTRIES):
            chunk = rest[start:start + MAX_SETTLE_ENTRIES]
            await self.agg.chain.send([ix.settle(self.agg.verifier.pubkey(), self.agg.market, job_key, client_key,
                                                 market.treasury, seed, chunk)], [self.agg.verifier])
            await self._record(address, chunk)

    async def _nothing_more_to_submit(self, session, address: str) -> bool:
        """Past the deadline, or every shard decided and no task handed out still open."""
        if self._too_late(await session.get(m.Job, address)):
            return True
        return not any(await self._open_work(session, address))

    @staticmethod
    async def _open_work(session, address: str) -> tuple[bool, bool]:
        """Whether some shard of the job is still undecided, and whether some task handed out is still open."""
        undecided = (await session.execute(select(m.Shard.index).where(
            m.Shard.job == address, m.Shard.status.not_in((ShardStatus.VERIFIED, ShardStatus.CACHED, ShardStatus.FAILED))))).first()
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
            job.status = JobStatus.SETTLING
            await session.commit()

    async def _close_if_done(self, address: str, job_key: Pubkey) -> None:
        async with self.agg.sessions() as session:
            undecided, open_tasks = await self._open_work(session, address)
            failed = (await session.execute(select(m.Shard.index).where(
                m.Shard.job == address, m.Shard.status == ShardStatus.FAILED))).first() is not None
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
        sent = await self.agg.chain.send([ix.close_job(job_key, account.client)], [self.agg.verifier])
        await self._mark_closed(address, str(sent.signature))

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

    async def _mark_closed(self, address: str, signature: str | None) -> None:
        async with self.agg.sessions() as session:
            job = await session.get(m.Job, address)
            job.status, job.close_signature = JobStatus.CLOSED, signature
            await session.commit()


def _in_flight(task: m.Task) -> bool:
    """Still running, or returned and not yet verified."""
    return task.status in (TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED) or (task.status == TaskStatus.DONE and task.fault is None)
