"""The provider node: claims tasks from the aggregator, runs them, journals, posts and commits on chain.

    claim (long poll) -> run (batched, in a worker thread) -> journal -> post -> submit_results
                                                                 ^ restart resumes here

Claims are at-least-once: a task handed again is not run again (the journal
knows it) but its result is sent again. `submit_results` goes once per job
assignment round; a submission whose confirmation was lost is looked up on
chain before it is sent again. SIGTERM: the batch in hand finishes, tasks
claimed after it are handed back, commitments are flushed, then it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import (
    AssignmentAccount,
    AssignmentStatus,
    ChainError,
    EpochAccount,
    JobAccount,
    ProgramError,
    assignment_address,
    epoch_address,
    provider_address,
)
from marketplace.chain import instructions as ix
from marketplace.chain.client import RpcFailure, TesseraChain
from marketplace.errors import ApiError
from marketplace.http import JsonApi
from marketplace.merkle import merkle_root
from marketplace.messages import sign_message
from provider.errors import ProviderError, TaskMalformed
from provider.executor import Executor, Task
from provider.journal import Journal, Result, ResultRow, ResultState
from provider.progress import ProgressReporter

log = logging.getLogger("tessera.provider")
GONE = (400, 404, 409)  # the aggregator will never take these results: refused, or the task moved on
ROUND_RETRY = 0.5  # seconds a claim waits while a committed round awaits settlement
MIN_BACKOFF, MAX_BACKOFF = 0.5, 15.0  # seconds the work loop waits after a failure, doubling
EPOCH_LOOK = 1.0  # seconds between looks at an epoch job not yet funded on chain
FINAL_PROGRAM_ERRORS = {"DeadlinePassed", "ShardOutOfRange", "WrongMarket", "InvalidAccountOwner", "InvalidDiscriminator"}


@dataclass(frozen=True)
class NodeConfig:
    aggregator: str  # the aggregator's base URL
    journal: Path  # SQLite file
    endpoint: str = ""  # advertised URL (default: this node's health server)
    capacity: int = 8  # tasks claimed and batched at once
    claim_wait: float = 2.0  # seconds a claim long-polls for work
    drain_timeout: float = 30.0  # seconds to flush commitments on shutdown
    heartbeat: float = 5.0  # seconds between signs of life to the aggregator
    health_host: str = "127.0.0.1"
    health_port: int = 0


@dataclass
class NodeStats:
    started_at: float = field(default_factory=time.time)
    tasks_run: int = 0
    tasks_declined: int = 0
    batches: int = 0
    busy_seconds: float = 0.0
    submissions: int = 0
    fees_paid: int = 0
    last_error: str | None = None


class ProviderNode:
    def __init__(self, config: NodeConfig, keypair: Keypair, market: Pubkey, chain: TesseraChain, executor: Executor,
                 journal: Journal) -> None:
        self.config, self.keypair, self.market, self.chain = config, keypair, market, chain
        self.executor, self.journal = executor, journal
        self.provider = provider_address(market, keypair.pubkey())[0]
        self.stats = NodeStats()
        self.draining = False
        self.health_url = ""
        self._unfunded: dict[Pubkey, float] = {}  # epoch jobs the chain showed unfunded, and when it did

    # the aggregator

    async def register(self, api: JsonApi) -> dict:
        body = {"models": sorted(self.executor.models), "capacity": self.config.capacity,
                "names": {digest: model.name for digest, model in self.executor.models.items()},
                "endpoint": self.config.endpoint or self.health_url}
        return await api.post("/v1/providers", sign_message(self.keypair, "register", body))

    async def claim(self, api: JsonApi) -> list[dict]:
        # A round waiting for the previous one's settlement is committed after a claim returns: claim briefly then.
        wait = ROUND_RETRY if self.journal.to_commit() else self.config.claim_wait
        body = {"max_tasks": self.config.capacity, "wait": wait}
        return (await api.post("/v1/work", sign_message(self.keypair, "claim", body)))["tasks"]

    async def _post(self, api: JsonApi, job: str, results: Sequence[Result]) -> None:
        message = sign_message(self.keypair, "results", {"results": [r.payload() for r in results]}, job=job)
        await api.post(f"/v1/jobs/{job}/results", message)

    async def post_results(self, api: JsonApi) -> None:
        """Sends every journaled result the aggregator has not acknowledged."""
        for job, results in self.journal.unposted().items():
            try:
                await self._post(api, job, results)
            except ApiError as exc:
                if exc.status not in GONE:
                    raise
                # One stale task refuses the batch: send each alone so the rest still count.
                for result in results:
                    try:
                        await self._post(api, job, [result])
                    except ApiError as single:
                        if single.status not in GONE:
                            raise
                        self.journal.mark_dropped([result])
                    else:
                        self.journal.mark_posted([result])
            else:
                self.journal.mark_posted(results)

    # the chain

    async def commit(self) -> None:
        """One submit_results per job with the Merkle root of this round's digests (sorted by shard)."""
        for job_text, rows in self.journal.to_commit().items():
            job = Pubkey.from_string(job_text)
            if not await self._numbered(job, rows):
                continue  # an epoch job not yet open and funded on chain: its work waits (see epochs in the aggregator)
            in_flight = [r for r in rows if r.state == ResultState.COMMITTING]
            assignment = await self.chain.fetch(AssignmentAccount, assignment_address(job, self.provider)[0])
            if in_flight and assignment is not None and {r.shard for r in in_flight} <= assignment.submitted_shards:
                self.journal.mark_committed(in_flight, None)  # it landed; its confirmation was lost
                continue  # the rest goes in the next round, after this one is settled
            if assignment is not None and assignment.status == AssignmentStatus.PENDING:
                continue  # one round at a time: wait for the verifier to settle this one
            await self._submit(job, in_flight or rows)

    async def _numbered(self, job: Pubkey, rows: list[ResultRow]) -> bool:
        """Whether the rows carry their shards' indices on chain. An epoch job's tasks came with each shard's channel
        and place, not its final index: once the epoch is funded, its Epoch account gives each channel's first
        shard, and so the index (read from the chain, not taken from the aggregator)."""
        places = self.journal.places([r.task for r in rows])
        if not places:
            return True
        if time.monotonic() - self._unfunded.get(job, -EPOCH_LOOK) < EPOCH_LOOK:
            return False  # the chain showed it unfunded a moment ago
        account = await self.chain.fetch(JobAccount, job)
        if account is None or not account.is_epoch or account.unfunded_shards:
            self._unfunded[job] = time.monotonic()
            return False
        self._unfunded.pop(job, None)
        epoch = await self.chain.fetch(EpochAccount, epoch_address(job)[0])
        first = {str(entry.channel): entry for entry in epoch.entries}
        shards = {}
        for task, (channel, seq) in places.items():
            entry = first.get(channel)
            if entry is None or seq >= entry.shard_count:
                raise ProviderError(f"epoch job {job} funds no place {seq} for channel {channel}")
            shards[task] = entry.first_shard + seq
        self.journal.renumber(shards)
        for row in rows:
            row.shard = shards.get(row.task, row.shard)
        return True

    async def _submit(self, job: Pubkey, rows: list[ResultRow]) -> None:
        rows = sorted(rows, key=lambda r: r.shard)
        root = merkle_root([bytes.fromhex(r.digest) for r in rows])
        self.journal.mark_committing(rows, root.hex())
        try:
            sent = await self.chain.send([ix.submit_results(self.keypair.pubkey(), self.market, job,
                                                            [r.shard for r in rows], root)], [self.keypair])
        except ProgramError as exc:
            if exc.name == "AssignmentPending":  # the previous round is not settled yet
                self.journal.mark_posted_again(rows)
            elif exc.name == "DuplicateSubmission":
                self.journal.mark_committed(rows, None)
            elif exc.name in FINAL_PROGRAM_ERRORS or exc.name.startswith("Job"):
                log.warning("results for job %s cannot be committed: %s", job, exc)
                self.journal.mark_dropped_rows(rows)
            else:  # e.g. stake below the minimum or locked by other work: retried later
                log.warning("results for job %s not committed yet: %s", job, exc)
                self.stats.last_error = str(exc)
                self.journal.mark_posted_again(rows)
            return
        except RpcFailure as exc:  # unknown outcome: the next pass asks the chain
            self.stats.last_error = str(exc)
            return
        self.journal.mark_committed(rows, str(sent.signature))
        self.stats.submissions += 1
        self.stats.fees_paid += sent.fee

    # running

    def _parse(self, payloads: list[dict]) -> tuple[list[Task], list[Result]]:
        tasks, refused = [], []
        for payload in payloads:
            try:
                tasks.append(Task.parse(payload))
            except TaskMalformed as exc:
                if isinstance(payload, dict) and isinstance(payload.get("task"), int):
                    refused.append(Result(payload["task"], str(payload.get("job")), int(payload.get("shard", 0)),
                                          str(payload.get("role")), None, None, {"code": exc.code, "message": str(exc)}))
        return tasks, refused

    async def work_once(self, api: JsonApi, stop: asyncio.Event) -> int:
        """One claim, run and flush; the number of tasks claimed."""
        payloads = await self.claim(api)
        if not payloads:
            await self.commit()  # rounds that waited for the previous one's settlement
            return 0
        known = self.journal.known([p["task"] for p in payloads if isinstance(p, dict) and isinstance(p.get("task"), int)])
        tasks, refused = self._parse([p for p in payloads if p.get("task") not in known])
        self.journal.note_places({t.id: t.epoch_place for t in tasks if t.epoch_place is not None})
        if known:
            self.journal.post_again(sorted(known))
        if stop.is_set():  # shutting down: hand the new work back at once
            refused += [Result(t.id, t.job, t.shard, t.role, None, None,
                               {"code": "shutting_down", "message": "the node is shutting down"}) for t in tasks]
            tasks = []
        if tasks:
            started = time.perf_counter()
            reporter = ProgressReporter(self.keypair, self.executor.models)
            running = asyncio.ensure_future(asyncio.to_thread(self.executor.run, tasks, reporter.hear))
            await reporter.post_until(api, running)
            results = await running
            self.stats.busy_seconds += time.perf_counter() - started
            self.stats.batches += 1
            refused += [r for r in results if r.error is not None]
            self.stats.tasks_run += sum(1 for r in results if r.error is None)
            self.journal.record([r for r in results if r.error is None])
        self.stats.tasks_declined += len(refused)
        self.journal.record(refused)
        await self.flush(api)
        return len(payloads)

    async def flush(self, api: JsonApi) -> None:
        await self.post_results(api)
        await self.commit()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then finishes the batch in hand and flushes what it owes.

        Every failure of the aggregator or the RPC node is transient here: the loop backs off and
        tries again, and the journal keeps every result until it is posted and committed."""
        runner = await self._serve_health()
        try:
            async with JsonApi(self.config.aggregator) as api:
                await self._until_registered(api, stop)
                heartbeat = asyncio.create_task(self._heartbeat(api, stop))
                backoff = MIN_BACKOFF
                while not stop.is_set():
                    try:
                        await self.work_once(api, stop)
                        backoff = MIN_BACKOFF
                    except (ApiError, aiohttp.ClientError, ChainError, ProviderError, TimeoutError) as exc:
                        self.stats.last_error = f"{type(exc).__name__}: {exc}"
                        log.warning("work loop (retrying in %.1f s): %s", backoff, self.stats.last_error)
                        await _sleep_or_stop(stop, backoff)
                        backoff = min(backoff * 2, MAX_BACKOFF)
                await self._leave(api)
                heartbeat.cancel()
                await self._drain(api)
        finally:
            await runner.cleanup()
            self.journal.close()

    async def _heartbeat(self, api: JsonApi, stop: asyncio.Event) -> None:
        """Tells the aggregator this node lives while a long batch keeps it from claiming."""
        while not stop.is_set():
            await _sleep_or_stop(stop, self.config.heartbeat)
            try:
                await api.post("/v1/providers/heartbeat", sign_message(self.keypair, "heartbeat", {}))
            except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.debug("heartbeat: %s", exc)

    async def _leave(self, api: JsonApi) -> None:
        """Says it is stopping, so work placed on it and not claimed goes to others at once."""
        try:
            await api.post("/v1/providers/leave", sign_message(self.keypair, "leave", {}))
        except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not tell the aggregator this node is leaving: %s", exc)

    async def _until_registered(self, api: JsonApi, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                answer = await self.register(api)
                log.info("registered with %s as %s (stake %s)", self.config.aggregator, answer["provider"], answer["stake"])
                await self.flush(api)  # what a previous run left
                return
            except (ApiError, aiohttp.ClientError, ChainError, TimeoutError) as exc:
                self.stats.last_error = f"registration: {exc}"
                log.warning("cannot register yet: %s", exc)
                await _sleep_or_stop(stop, 1.0)

    async def _drain(self, api: JsonApi) -> None:
        """Flushes results and commitments, waiting for rounds pending settlement up to the drain timeout."""
        self.draining = True
        deadline = time.monotonic() + self.config.drain_timeout
        while time.monotonic() < deadline:
            try:
                await self.flush(api)
            except (ApiError, aiohttp.ClientError, ChainError, TimeoutError) as exc:
                log.warning("drain: %s", exc)
            if not self.journal.unposted() and not self.journal.to_commit():
                return
            await asyncio.sleep(0.5)
        log.warning("left %d results in the journal for the next start", sum(self.journal.counts().get(s, 0) for s in (ResultState.RAN, ResultState.POSTED, ResultState.COMMITTING)))

    # health

    def health(self) -> dict:
        return {
            "status": "draining" if self.draining else "ok",
            "owner": str(self.keypair.pubkey()), "provider": str(self.provider), "market": str(self.market),
            "aggregator": self.config.aggregator,
            "models": [{"name": m.name, "digest": m.hex, "kind": m.kind.value} for m in self.executor.models.values()],
            "uptime": round(time.time() - self.stats.started_at, 1), "tasks_run": self.stats.tasks_run,
            "tasks_declined": self.stats.tasks_declined, "batches": self.stats.batches,
            "busy_seconds": round(self.stats.busy_seconds, 3), "submissions": self.stats.submissions,
            "fees_paid": self.stats.fees_paid, "journal": self.journal.counts(), "last_error": self.stats.last_error,
        }

    async def _serve_health(self) -> web.AppRunner:
        async def health(request: web.Request) -> web.Response:
            return web.json_response(self.health())

        app = web.Application()
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.health_host, self.config.health_port)
        await site.start()
        host, port = site._server.sockets[0].getsockname()[:2]
        self.health_url = f"http://{host}:{port}"
        return runner


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):  # not wait_for, which on 3.11 can swallow a cancellation
        async with asyncio.timeout(seconds):
            await stop.wait()
