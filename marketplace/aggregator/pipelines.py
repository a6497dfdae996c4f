"""Pipeline jobs: the aggregator drives a model split over stage providers, has each commit its share, checks
sampled stages by recomputation, and reruns an answer whose stage was caught lying.

A pass over a job, under its lease (one aggregator drives a job at a time):

    answer   drive each request whose stages lack a committed answer; keep every boundary's bytes on disk
    commit   ask each stage's owner, once for all its shards of the job, to submit its receipts' roots on chain
    check    sampled stages: another owner recomputes from the recorded input (and commits what it computed);
             a disagreement goes to a third holder, the referee; the loser's work is a fault, the evidence its
             commitment and the referee's digest; a lying stage's request is driven again without its owner

Checking is pipeline_checks.py. The conductor's settlement then pays, rejects or slashes each owner's submission like any shard's. Driving and
comparing activations needs torch (the provider extra), imported only once a pipeline job comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, defaultdict
from typing import Any

import aiohttp
from solders.pubkey import Pubkey
from sqlalchemy import exists, select, update

from marketplace.aggregator import models as m
from marketplace.aggregator.errors import BadRequest, NotFound, Unavailable
from marketplace.aggregator.outputs import parse_input, parse_params
from marketplace.aggregator.pipeline_checks import StageChecks
from marketplace.aggregator.scheduling import sampled_shards
from marketplace.chain import ProviderAccount, ProviderStatus
from marketplace.digests import DecodingParams, input_digest
from marketplace.economics import execution_budget
from marketplace.messages import sign_message
from marketplace.pipeline.errors import PipelineError, SessionUnknown
from marketplace.pipeline.evidence import StageEvidence
from marketplace.pipeline.fragments import Manifest, Span
from marketplace.pipeline.routing import STAGE_FIELD, Holder, choose_routes, split_stage_inputs, stage_inputs
from marketplace.pipeline.store import FragmentStore
from marketplace.vocabulary import JobStatus, Kind, Role, ShardStatus, TaskStatus, Verification

log = logging.getLogger("tessera.aggregator")
LEASE = 30  # seconds one aggregator holds a job it drives, renewed as it goes; another takes over once it lapses
RETRY = 5  # seconds a job whose pass failed (no holder for a span, say) waits before the next


class Pipelines:
    def __init__(self, aggregator) -> None:
        self.agg = aggregator
        self.store = FragmentStore(aggregator.config.fragment_store)
        self._heads: dict[str, Any] = {}
        self._head_lock = asyncio.Lock()
        self._drives: dict[str, asyncio.Task] = {}
        self._load: Counter[str] = Counter()  # owner -> answers this process is driving through it now
        self._http: aiohttp.ClientSession | None = None
        self.checks = StageChecks(self)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self._http

    async def close(self) -> None:
        for task in self._drives.values():
            task.cancel()
        for task in list(self._drives.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.close()

    # the models

    async def holders(self, model: str) -> list[Holder]:
        """Live providers serving a span of `model`, active on chain at the minimum stake."""
        async with self.agg.sessions() as session:
            rows = [p for p in (await session.execute(select(m.Provider))).scalars()
                    if (p.stages or {}).get(model) and self.agg.is_live(p)]
        min_stake = (await self.agg.market_account()).min_stake
        holders = []
        for row in rows:
            account = await self.agg.chain.fetch(ProviderAccount, Pubkey.from_string(row.address))
            if account is None or account.status != ProviderStatus.ACTIVE or account.stake < min_stake:
                continue
            # A stage holder's tasks are the steps drivers took through it: its speed is seconds per step.
            speed = row.busy_seconds / row.tasks_done if row.tasks_done else 0.0
            holders.append(Holder(row.owner, row.endpoint, Span.parse(row.stages[model]), speed, self._load[row.owner]))
        return holders

    async def is_pipelined(self, model: str) -> bool:
        return any((p.stages or {}).get(model) for p in await self.agg.roster())

    async def staged(self, model: str, inputs: list[dict]) -> list[dict]:
        """A request's inputs as the job's: once per span for a pipelined model, unchanged for a whole one."""
        if not await self.is_pipelined(model):
            return inputs
        spans = [f.span for f in (await self.manifest(model)).spans]
        return [staged for item in inputs for staged in stage_inputs(item, spans)]

    async def manifest(self, model: str) -> Manifest:
        """The model's manifest, from this aggregator's store or a holder (checked against the digest)."""
        from provider.pipeline.fetch import FragmentFetcher

        with contextlib.suppress(PipelineError):
            return self.store.manifest(model)
        holders = await self.holders(model)
        if not holders:
            raise NotFound(f"no live provider serves a span of model {model}", "pipeline_not_found")
        try:
            return await FragmentFetcher(self.store, sorted({h.url for h in holders}), self.http).model(model)
        except PipelineError as exc:
            raise Unavailable(f"no holder served model {model}'s manifest intact: {exc}", "pipeline_unavailable") from exc

    async def head(self, model: str):
        """The model's embeddings and head, loaded once per process (fetched from a holder the first time)."""
        from provider.pipeline.fetch import FragmentFetcher
        from provider.pipeline.spans import load_head

        async with self._head_lock:
            if model not in self._heads:
                manifest = await self.manifest(model)
                holders = await self.holders(model)
                await FragmentFetcher(self.store, sorted({h.url for h in holders}), self.http).fragment(manifest.head)
                self._heads[model] = await asyncio.to_thread(load_head, self.store, manifest)
            return self._heads[model]

    async def describe(self, model: str) -> dict:
        """GET /v1/pipelines/{model}: its spans in order and who holds each."""
        manifest = await self.manifest(model)
        holders = await self.holders(model)
        return {"model": manifest.hex, "name": manifest.name, "layers": manifest.num_layers,
                "hidden_size": manifest.hidden_size, "spans": [str(f.span) for f in manifest.spans],
                "holders": {str(f.span): [{"owner": h.owner, "url": h.url} for h in holders if h.span == f.span]
                            for f in manifest.spans}}

    # admitting a job

    async def plan(self, job_text: str, kind: str, inputs: list, params: Any, model: str) -> tuple[list[m.Shard], m.PipelineRun]:
        """Shards (one per request and stage) and the run of a pipeline job; BadRequest if the inputs are not that."""
        if kind not in (Kind.GENERATE, Kind.CHAT):
            raise BadRequest(f"a pipelined model generates text: {kind} jobs cannot use it")
        spans = [f.span for f in (await self.manifest(model)).spans]
        try:
            requests = split_stage_inputs(inputs, spans)
        except ValueError as exc:
            raise BadRequest(f"{exc} (GET /v1/pipelines/{model} lists the spans)") from exc
        head = await self.head(model)
        params = parse_params(kind, params)
        for request in requests:
            parse_input(kind, request)
            if kind == Kind.CHAT and not getattr(head.tokenizer, "chat_template", None):
                raise BadRequest(f"model {model} has no chat template: ask it with generate", "model_has_no_chat_template")
            length = len(_prompt_ids(head, kind, request)) + params.max_new_tokens
            if length > head.max_positions:
                raise BadRequest(f"{length} tokens (prompt and new tokens) exceed the model's {head.max_positions} positions",
                                 "input_too_large")
        shards = [m.Shard(job=job_text, index=index, input=item, input_digest=input_digest(item).hex(),
                          status=ShardStatus.RUNNING) for index, item in enumerate(inputs)]
        run = m.PipelineRun(job=job_text, spans=[str(s) for s in spans], requests=len(requests), lease_until=0, drives=0,
                            excluded_owners=[], pending={})
        return shards, run

    # driving

    async def step(self) -> None:
        """Starts a drive for each pipeline job with work left whose lease has lapsed."""
        now = int(self.agg.now())
        async with self.agg.sessions() as session:
            due = (await session.execute(select(m.PipelineRun.job).join(m.Job, m.Job.address == m.PipelineRun.job).where(
                m.Job.status.in_((JobStatus.OPEN, JobStatus.SETTLING)), m.PipelineRun.lease_until < now,
                exists().where(m.Shard.job == m.PipelineRun.job, m.Shard.status == ShardStatus.RUNNING)))).scalars().all()
        for job in due:
            if job in self._drives or not await self._take_lease(job, now):
                continue
            self._drives[job] = asyncio.create_task(self._drive(job))

    async def _take_lease(self, job: str, now: int) -> bool:
        async with self.agg.sessions() as session:
            taken = await session.execute(update(m.PipelineRun).where(
                m.PipelineRun.job == job, m.PipelineRun.lease_until < now).values(lease_until=now + LEASE))
            await session.commit()
        return taken.rowcount == 1

    async def _renew_lease(self, job: str) -> None:
        async with self.agg.sessions() as session:
            await session.execute(update(m.PipelineRun).where(m.PipelineRun.job == job).values(
                lease_until=int(self.agg.now()) + LEASE))
            await session.commit()

    async def _drive(self, job: str) -> None:
        retry_at = int(self.agg.now()) + RETRY  # a cancelled drive (shutdown) is taken up again soon
        try:
            await self._answer(job)
            await self._renew_lease(job)
            await self._commit(job)
            await self._renew_lease(job)
            await self.checks.run(job)
            retry_at = 0
        except Exception as exc:  # the job waits a little for its next pass; other jobs go on
            log.warning("pipeline job %s: %s: %s", job, type(exc).__name__, exc)
            retry_at = int(self.agg.now()) + RETRY
        finally:
            async with self.agg.sessions() as session:
                await session.execute(update(m.PipelineRun).where(m.PipelineRun.job == job).values(lease_until=retry_at))
                await session.commit()
            self._drives.pop(job, None)
            self.agg.activity.fire()

    async def state(self, job: str):
        async with self.agg.sessions() as session:
            row = await session.get(m.Job, job)
            run = await session.get(m.PipelineRun, job)
            shards = {s.index: s for s in (await session.execute(select(m.Shard).where(m.Shard.job == job))).scalars()}
            tasks = (await session.execute(select(m.Task).where(m.Task.job == job).order_by(m.Task.id))).scalars().all()
            quote = (await session.execute(select(m.Quote).where(m.Quote.job == job))).scalar_one()
        return row, run, shards, tasks, quote

    async def _answer(self, job: str) -> None:
        """Drives every request whose stages still need a committed answer."""
        row, run, shards, tasks, _ = await self.state(job)
        count = len(run.spans)
        answered = {t.shard for t in tasks if t.role == Role.PRIMARY and t.status == TaskStatus.DONE and t.fault is not True}
        for request in range(run.requests):
            need = [i for i in range(count) if shards[request * count + i].status == ShardStatus.RUNNING
                    and request * count + i not in answered and str(request * count + i) not in run.pending]
            if need:
                # An owner never submits a shard twice: whoever served or checked these stages before sits this one out.
                submitted = {t.provider_owner for t in tasks if t.shard - request * count in need and
                             t.shard // count == request and t.role != Role.REFEREE}
                await self._drive_request(row, run, shards, request, need, submitted)
                await self._renew_lease(job)
                run = (await self.state(job))[1]  # what this request left pending: the next one reuses its owners

    async def _drive_request(self, row: m.Job, run: m.PipelineRun, shards: dict, request: int, need: list[int],
                             submitted: set[str]) -> None:
        from provider.pipeline.driver import PipelineDriver, StageRoute

        spans = [Span.parse(s) for s in run.spans]
        count = len(spans)
        first = shards[request * count]
        asked = {k: v for k, v in first.input.items() if k != STAGE_FIELD}
        head = await self.head(row.model_digest)
        prompt_ids = _prompt_ids(head, row.kind, asked)
        holders = await self.holders(row.model_digest)
        serving = {entry["owner"] for entry in run.pending.values()} | {
            t.provider_owner for t in (await self.state(row.address))[3] if t.role == Role.PRIMARY}
        try:
            routes = choose_routes(spans, holders, {*run.excluded_owners, *submitted}, serving)
        except ValueError as exc:
            raise Unavailable(str(exc), "no_stage") from exc
        owners = {h.url: h.owner for h in holders}
        driver = PipelineDriver(head, [StageRoute(span, tuple(h.url for h in options)) for span, options in routes], self.http)
        partials = self.agg.results.partials
        tokens: list[int] = []
        renewed = [time.monotonic()]

        def streamed(token: int):
            tokens.append(token)
            partials.offer(row.address, request * count, 0, list(tokens), head.tokenizer.decode(tokens, skip_special_tokens=True))
            if time.monotonic() - renewed[0] > LEASE / 3:  # a long answer keeps its lease
                renewed[0] = time.monotonic()
                return self._renew_lease(row.address)
            return None

        started = time.perf_counter()
        serving = [options[0].owner for _, options in routes]
        self._load.update(serving)
        try:
            answer = await driver.generate(prompt_ids, DecodingParams.parse(row.params), input_digest(asked), streamed)
        finally:
            self._load.subtract(serving)
        seconds = time.perf_counter() - started
        pending = dict(run.pending)
        for index in need:
            record = answer.spans[index]
            session = record.sessions[-1]
            shard = request * count + index
            directory = self._run_dir(row.address)
            row_bytes = 4 * head.manifest.hidden_size
            evidence = StageEvidence(tuple(session.receipts), tuple(len(b) // row_bytes for b in session.inputs),
                                     b"".join(session.inputs), b"".join(session.outputs))
            # What the committing stage signed, from position 0 (a take-over's replay included): what checks judge.
            # By owner: a stage driven again after a lie does not overwrite the evidence against the liar.
            with self.store.writing(directory / f"{shard}.{owners[session.holder]}.evidence.json") as out:
                out.write(json.dumps(evidence.to_json()).encode())
            pending[str(shard)] = {"owner": owners[session.holder], "url": session.holder, "session": session.session,
                                   "digest": session.commitment.hex()}
        output = {"text": answer.text, "token_ids": answer.token_ids, "prompt_tokens": answer.prompt_tokens,
                  "finish_reason": answer.finish_reason, "seconds": round(seconds, 3),
                  "bytes_per_token_per_hop": round(answer.bytes_per_token_per_hop(), 1)}
        async with self.agg.sessions() as session:
            for index in range(count):
                shard = await session.get(m.Shard, (row.address, request * count + index))
                earlier = shard.output or {}
                # A stage driven again says who serves it now; the others keep who served (and committed) them.
                provider = pending[str(shard.index)]["owner"] if index in need else earlier.get("provider")
                shard.output = {**output, "stage": run.spans[index], "provider": provider,
                                **{k: earlier[k] for k in ("divergent_layer",) if k in earlier}}
            await session.execute(update(m.PipelineRun).where(m.PipelineRun.job == row.address).values(
                pending=pending, drives=m.PipelineRun.drives + 1))
            for record in answer.spans:
                for served in record.sessions:
                    if served.holder in owners:
                        await session.execute(update(m.Provider).where(m.Provider.owner == owners[served.holder]).values(
                            busy_seconds=m.Provider.busy_seconds + served.seconds,
                            tasks_done=m.Provider.tasks_done + len(served.receipts)))
            await session.commit()
        run.pending = pending
        log.info("job %s request %d: %d tokens through %s in %.2f s", row.address, request, len(answer.token_ids),
                 " -> ".join(f"{r.span}@{owners.get(r.sessions[-1].holder, '?')[:8]}" for r in answer.spans), seconds)

    def _run_dir(self, job: str):
        return self.store.root / "runs" / job

    async def forget(self, job: str) -> None:
        """A closed job's activations go, but a disputed stage's: its evidence stays published (GET .../evidence)."""
        directory = self._run_dir(job)
        if not directory.is_dir():
            return
        async with self.agg.sessions() as session:
            disputed = {str(s) for s in (await session.execute(select(m.Task.shard).where(
                m.Task.job == job, m.Task.role == Role.REFEREE))).scalars()}
        for path in directory.iterdir():
            if path.name.split(".")[0] not in disputed:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()  # only when nothing disputed is left in it

    def stage_evidence(self, job: str, shard: int, owner: str) -> StageEvidence:
        return StageEvidence.from_json(json.loads((self._run_dir(job) / f"{shard}.{owner}.evidence.json").read_bytes()))

    async def evidence(self, job: str, shard: int, owner: str) -> dict:
        """The signed receipts of `owner`'s stage in a disputed shard, with the bytes they name (StageEvidence): what
        an audit re-runs."""
        async with self.agg.sessions() as session:
            disputed = (await session.execute(select(m.Task.id).where(
                m.Task.job == job, m.Task.shard == shard, m.Task.role == Role.REFEREE))).first()
        path = self._run_dir(job) / f"{shard}.{owner}.evidence.json"
        if disputed is None or not path.is_file():
            raise NotFound(f"shard {shard} of job {job} has no published evidence of {owner} (only disputed stages' is)",
                           "evidence_not_found")
        return json.loads(path.read_bytes())

    async def _commit(self, job: str) -> None:
        """Each owner with driven, uncommitted shards submits them on chain, all at once."""
        row, run, shards, tasks, quote = await self.state(job)
        by_owner: dict[str, dict[str, dict]] = defaultdict(dict)
        for shard, entry in run.pending.items():
            by_owner[entry["owner"]][shard] = entry
        sampled = set(sampled_shards(bytes.fromhex(quote.seed), job, row.shard_count, row.sampling_rate_bps,
                                     execution_budget(row.shard_count, row.sampling_rate_bps)))
        for owner, entries in by_owner.items():
            url = next(iter(entries.values()))["url"]
            try:
                committed = await self.ask_commit(url, job, {shard: e["session"] for shard, e in entries.items()})
            except (aiohttp.ClientError, asyncio.TimeoutError, PipelineError) as exc:
                log.warning("job %s: %s did not commit shards %s: %s", job, owner, sorted(entries), exc)
                # Gone, or back without the sessions (restarted): its work is lost, those shards are driven again.
                if isinstance(exc, SessionUnknown) or not await self._live(owner):
                    await self._forget_pending(job, list(entries))
                continue
            async with self.agg.sessions() as session:
                for shard_text, entry in entries.items():
                    index = int(shard_text)
                    if committed["digests"].get(shard_text) != entry["digest"]:
                        log.error("job %s: %s committed %s for shard %d, its receipts say %s", job, owner,
                                  committed["digests"].get(shard_text), index, entry["digest"])
                    attempt = sum(1 for t in tasks if t.shard == index and t.role == Role.PRIMARY)
                    shard = await session.get(m.Shard, (job, index))
                    # Decided now unless a check is to come: the rerun of a stage caught lying (the referee already
                    # decided its shard), or a stage not drawn for a check.
                    decided = Verification.REFEREE if attempt else None if index in sampled else Verification.UNSAMPLED
                    if decided is not None:
                        self.decided(shard, decided)
                    session.add(m.Task(job=job, shard=index, role=Role.PRIMARY, attempt=attempt, model_digest=row.model_digest,
                                       excluded_owners=[], status=TaskStatus.DONE, provider_owner=owner,
                                       digest=committed["digests"].get(shard_text), fault=False if decided else None,
                                       claims={"url": url, "session": entry["session"]}))
                await session.execute(update(m.PipelineRun).where(m.PipelineRun.job == job).values(
                    pending={k: v for k, v in run.pending.items() if k not in entries}))
                await session.commit()
            run.pending = {k: v for k, v in run.pending.items() if k not in entries}

    async def ask_commit(self, url: str, job: str, shards: dict[str, str | None]) -> dict:
        message = sign_message(self.agg.verifier, "stage_commit", {"shards": shards}, job=job)
        async with self.http.post(f"{url}/v1/commit", json=message.to_json()) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                refused = SessionUnknown if error.get("code") == SessionUnknown.code else PipelineError
                raise refused(f"{url} refused to commit: {error.get('message', answer)}")
        return answer

    async def _live(self, owner: str) -> bool:
        async with self.agg.sessions() as session:
            row = await session.get(m.Provider, owner)
        return row is not None and self.agg.is_live(row)

    async def _forget_pending(self, job: str, shards: list[str]) -> None:
        async with self.agg.sessions() as session:
            run = await session.get(m.PipelineRun, job)
            run.pending = {k: v for k, v in run.pending.items() if k not in shards}
            await session.commit()

    def decided(self, shard: m.Shard, how: Verification) -> None:
        shard.status, shard.verification, shard.decided_at = ShardStatus.VERIFIED, how, int(self.agg.now())

def _prompt_ids(head, kind: str, request: dict) -> list[int]:
    """What the model reads, as the whole model's node reads it: the prompt, or the conversation in its chat template."""
    text = request["prompt"] if kind == Kind.GENERATE else head.tokenizer.apply_chat_template(
        request["messages"], tokenize=False, add_generation_prompt=True)
    return head.tokenizer(text)["input_ids"]
