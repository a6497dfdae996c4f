"""What providers send about the tasks they run: results (kept, then decided by the conductor) and progress (shown
by streams as answers are generated). What a results message does is decided in intake.py (pure); this module
reads and writes around it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from marketplace.aggregator import models as m
from marketplace.aggregator.db import versioned_update
from marketplace.aggregator.errors import BadRequest, Conflict, Forbidden, NotFound
from marketplace.aggregator.intake import JobTerms, parse_progress, parse_results, take_results
from marketplace.aggregator.outputs import parse_params
from marketplace.aggregator.partials import Partials
from marketplace.errors import MessageReplayed
from marketplace.messages import SignedMessage, authenticate
from marketplace.vocabulary import GENERATIVE, Kind, Role, TaskStatus

if TYPE_CHECKING:
    from marketplace.aggregator.service import Aggregator

KEPT_JOB_TERMS = 4_096
KEPT_HANDED = 10_000  # primary runs this process handed out that progress is checked against without a read


@dataclass(frozen=True)
class RunningTask:
    """What a progress report's task is checked against."""

    id: int
    job: str
    shard: int
    provider_owner: str | None
    streams: bool  # a primary run still claimed: what it reports is shown


class ProviderResults:
    def __init__(self, agg: Aggregator) -> None:
        self.agg = agg
        self.partials = Partials()  # answers in progress, for streams (each job's signal wakes its streams)
        self._terms: OrderedDict[str, JobTerms] = OrderedDict()  # recent jobs' terms (see _job_terms)
        # Primary runs claimed through this process, with their claim deadlines: until then the run cannot have been
        # handed on, so its progress (a stream's first token waits on the first report) needs no read of the task.
        self._handed: OrderedDict[int, tuple[RunningTask, int]] = OrderedDict()

    def handed(self, task: RunningTask, claim_deadline: int) -> None:
        self._handed[task.id] = (task, claim_deadline)
        if len(self._handed) > KEPT_HANDED:
            self._handed.popitem(last=False)

    def forget(self, task_ids: Iterable[int]) -> None:
        """These runs were cancelled: what they report is checked against the database again (and not shown)."""
        for task_id in task_ids:
            self._handed.pop(task_id, None)

    async def accept(self, job: str, message: SignedMessage) -> dict:
        authenticate(message, "results", job=job, now=self.agg.now)
        results = parse_results(message.body)
        owner = str(message.signer)
        stale = Conflict("a task changed while its results arrived; ask for work again", "task_closed")
        async with self.agg.sessions() as session:
            if not await self.agg.nonces.take(session, message):
                raise MessageReplayed(f"nonce {message.nonce} from {message.signer} was already used")
            terms = await self._job_terms(session, job)
            rows = (await session.execute(select(m.Task, m.Shard.input_digest).join(
                m.Shard, (m.Shard.job == m.Task.job) & (m.Shard.index == m.Task.shard)).where(
                m.Task.id.in_([item["task"] for item in results])).with_for_update(of=m.Task))).all()
            tasks = {task.id: task for task, _ in rows}
            intake = take_results(terms, owner, results, tasks, {task.id: bytes.fromhex(digest) for task, digest in rows},
                                  int(self.agg.now()))
            for task in intake.declined:
                await self.agg.hand_on(session, tasks[task], TaskStatus.DECLINED)
            if intake.done:  # one statement for the batch, refusing it if a task was expired and handed on meanwhile
                written = await session.execute(*versioned_update(m.Task.__table__, intake.done, {"status": TaskStatus.DONE}))
                if written.rowcount != len(intake.done):
                    await session.rollback()
                    raise stale
                # Added in place, not read and written back: messages from one provider may be taken at once.
                await session.execute(update(m.Provider).where(m.Provider.owner == owner).values(
                    tasks_done=m.Provider.tasks_done + len(intake.done),
                    busy_seconds=m.Provider.busy_seconds + intake.busy_seconds))
            try:
                await session.commit()
            except StaleDataError as exc:  # a declined task expired (and was handed on) meanwhile
                raise stale from exc
        finished = {row["id"] for row in intake.done} | set(intake.declined)
        self.partials.drop(job, finished)
        self.forget(finished)
        self.agg.activity.fire()
        if intake.declined:
            self.agg.work_available.fire()
        return {"accepted": intake.accepted, "declined": intake.declined}

    async def progress(self, job: str, message: SignedMessage) -> dict:
        """A primary provider's answers in progress, kept for the streams that show them as they are generated.
        Signed and bound to the job, but without a nonce: a report only ever extends what is kept, so one sent
        again changes nothing."""
        authenticate(message, "progress", job=job, now=self.agg.now)
        owner = str(message.signer)
        terms = self._terms.get(job)
        if terms is None:
            async with self.agg.sessions() as session:
                terms = await self._job_terms(session, job)
        if terms.params is None or terms.kind not in GENERATIVE:
            raise BadRequest("only generation streams its progress", "not_streamed")
        partials = parse_progress(message.body, terms.params.max_new_tokens)
        ids = [p["task"] for p in partials]
        tasks = self._claimed_here(ids)
        if tasks is None:
            async with self.agg.sessions() as session:
                tasks = {t.id: RunningTask(t.id, t.job, t.shard, t.provider_owner,
                                           t.role == Role.PRIMARY and t.status == TaskStatus.CLAIMED)
                         for t in (await session.execute(
                             select(m.Task.id, m.Task.job, m.Task.shard, m.Task.provider_owner, m.Task.role, m.Task.status)
                             .where(m.Task.id.in_(ids)))).all()}
        taken = []
        for item in partials:
            task = tasks.get(item["task"])
            if task is None or task.job != job:
                raise NotFound(f"task {item['task']} is not part of job {job}", "task_not_found")
            if task.provider_owner != owner:
                raise Forbidden(f"task {task.id} was not handed to {owner}", "task_not_yours")
            if task.streams and self.partials.offer(job, task.shard, task.id, item["token_ids"], item["text"]):
                taken.append(task.id)
        return {"taken": taken}

    def _claimed_here(self, ids: Sequence[int]) -> dict[int, RunningTask] | None:
        """The tasks, if this process handed out every one and none is past its claim's deadline; None otherwise."""
        now = self.agg.now()
        found = {}
        for task_id in ids:
            handed = self._handed.get(task_id)
            if handed is None or now >= handed[1]:
                return None
            found[task_id] = handed[0]
        return found

    async def _job_terms(self, session, job: str) -> JobTerms:
        """What a job's results are checked against. A job's terms never change once it exists, so each process
        keeps the recent ones instead of reading them with every message."""
        terms = self._terms.get(job)
        if terms is None:
            row = await session.get(m.Job, job)
            if row is None:
                raise NotFound(f"no job {job}", "job_not_found")
            terms = self.know(job, row.kind, row.model_digest, row.params)
        return terms

    def know(self, job: str, kind: str, model_digest: str, params: dict | None) -> JobTerms:
        """Keeps a job's terms as read with its row (a claim reads them too: the first progress a provider posts,
        which a stream's first token waits for, then needs no read of the job)."""
        terms = self._terms.get(job)
        if terms is None:
            terms = self._terms[job] = JobTerms(job, Kind(kind), bytes.fromhex(model_digest), parse_params(kind, params or None))
            if len(self._terms) > KEPT_JOB_TERMS:
                self._terms.popitem(last=False)
        return terms
