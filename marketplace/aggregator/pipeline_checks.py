"""Checking pipeline stages: a sampled stage is recomputed by another owner from what the committing stage signed
(that owner commits what it computed, and is paid like a replica); a disagreement goes to a third holder as referee,
whose trace against the accused's names the first divergent layer; the loser's work is a fault, and a lying stage's
owner is excluded from the job, whose request is then driven again (pipelines.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging

import aiohttp
from sqlalchemy import select, update

from marketplace.aggregator import models as m
from marketplace.aggregator.scheduling import sampled_shards
from marketplace.economics import execution_budget
from marketplace.messages import sign_message
from marketplace.pipeline.activations import CHECK_HEADER
from marketplace.pipeline.errors import PipelineError
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.routing import Holder, choose_checker
from marketplace.vocabulary import Role, ShardStatus, TaskStatus, Verification

log = logging.getLogger("tessera.aggregator")


class StageChecks:
    def __init__(self, pipelines) -> None:
        self.pipelines = pipelines
        self.agg = pipelines.agg

    async def run(self, job: str) -> None:
        """Sampled stages with a committed answer and no check yet: recomputed by another owner, then decided."""
        row, run, shards, tasks, quote = await self.pipelines.state(job)
        sampled = sampled_shards(bytes.fromhex(quote.seed), job, row.shard_count, row.sampling_rate_bps,
                                 execution_budget(row.shard_count, row.sampling_rate_bps))
        primaries = {t.shard: t for t in tasks if t.role == Role.PRIMARY and t.status == TaskStatus.DONE and t.fault is None}
        checked = {t.shard for t in tasks if t.role == Role.REPLICA}
        to_check = [s for s in sampled if s in primaries and s not in checked and shards[s].status == ShardStatus.RUNNING]
        if not to_check:
            return
        holders = await self.pipelines.holders(row.model_digest)
        busy = {t.provider_owner for t in tasks if t.role in (Role.PRIMARY, Role.REPLICA)} | set(run.excluded_owners)
        busy |= {e["owner"] for e in run.pending.values()}
        checks: dict[int, tuple[Holder, bytes]] = {}
        for index in to_check:
            span = Span.parse(run.spans[index % len(run.spans)])
            checker = choose_checker(span, holders, busy)
            if checker is None:
                async with self.agg.sessions() as session:
                    self.pipelines.decided(await session.get(m.Shard, (job, index)), Verification.UNCHECKED)
                    await session.execute(update(m.Task).where(m.Task.id == primaries[index].id).values(fault=False))
                    await session.commit()
                continue
            data = self.pipelines.stage_evidence(job, index, primaries[index].provider_owner).inputs
            try:
                # A checker may take several of this pass's checks: it commits them all at once, below.
                checks[index] = (checker, await self._recompute(checker.url, data, job, index))
            except (aiohttp.ClientError, asyncio.TimeoutError, PipelineError) as exc:
                log.warning("job %s: checker %s failed on shard %d: %s", job, checker.owner, index, exc)
        for owner in {c.owner for c, _ in checks.values()}:
            mine = {i: c for i, (c, _) in checks.items() if c.owner == owner}
            try:
                committed = await self.pipelines.ask_commit(next(iter(mine.values())).url, job, {str(i): None for i in mine})
            except (aiohttp.ClientError, asyncio.TimeoutError, PipelineError) as exc:
                log.warning("job %s: checker %s did not commit: %s", job, owner, exc)
                for index in mine:
                    checks.pop(index)
                continue
            async with self.agg.sessions() as session:
                for index in mine:
                    session.add(m.Task(job=job, shard=index, role=Role.REPLICA, attempt=0, model_digest=row.model_digest,
                                       excluded_owners=[], status=TaskStatus.DONE, provider_owner=owner,
                                       digest=committed["digests"][str(index)]))
                await session.commit()
        hidden = (await self.pipelines.manifest(row.model_digest)).hidden_size
        for index, (checker, recomputed) in checks.items():
            await self._decide(job, run, index, primaries[index], checker, recomputed, holders, hidden)

    async def _recompute(self, url: str, data: bytes, job: str | None = None, shard: int | None = None) -> bytes:
        """A holder's recomputation; given the job and shard, a check the market pays for (the verifier's header)."""
        from provider.pipeline.driver import recompute

        headers = {}
        if job is not None:
            message = sign_message(self.agg.verifier, "stage_check", {"shard": shard, "input_sha256": hashlib.sha256(data).hexdigest()},
                                   job=job)
            headers[CHECK_HEADER] = base64.b64encode(json.dumps(message.to_json()).encode()).decode()
        return await recompute(self.pipelines.http, url, data, headers)

    async def _decide(self, job: str, run: m.PipelineRun, index: int, primary: m.Task, checker: Holder, recomputed: bytes,
                      holders: list[Holder], hidden: int) -> None:
        from marketplace.pipeline import activations
        from marketplace.pipeline.checks import compare

        evidence = self.pipelines.stage_evidence(job, index, primary.provider_owner)
        data, claimed = evidence.inputs, evidence.outputs
        check = compare(activations.decode(claimed, hidden), activations.decode(recomputed, hidden))
        async with self.agg.sessions() as session:
            replica = (await session.execute(select(m.Task).where(
                m.Task.job == job, m.Task.shard == index, m.Task.role == Role.REPLICA))).scalar_one()
            shard = await session.get(m.Shard, (job, index))
            if check.agrees:
                primary_row = await session.get(m.Task, primary.id)
                primary_row.fault, replica.fault = False, False
                self.pipelines.decided(shard, Verification.CHECKED)
                await session.commit()
                return
        log.warning("job %s shard %d: %s's stage differs from %s's check (token %d, relative error %.2e): to a referee",
                    job, index, primary.provider_owner, checker.owner, check.worst_token, check.worst_error)
        span = Span.parse(run.spans[index % len(run.spans)])
        referee = choose_checker(span, holders, {primary.provider_owner, checker.owner, *run.excluded_owners})
        verdict = None
        if referee is not None:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, PipelineError):
                judged = await self._recompute(referee.url, data)
                ours = activations.decode(judged, hidden)
                if compare(activations.decode(recomputed, hidden), ours).agrees:
                    verdict = "primary"
                elif compare(activations.decode(claimed, hidden), ours).agrees:
                    verdict = "checker"
        async with self.agg.sessions() as session:
            shard = await session.get(m.Shard, (job, index))
            primary_row = await session.get(m.Task, primary.id)
            replica = (await session.execute(select(m.Task).where(
                m.Task.job == job, m.Task.shard == index, m.Task.role == Role.REPLICA))).scalar_one()
            if verdict is None:  # no referee could judge: the deadline settles it (neither paid nor slashed)
                shard.status = ShardStatus.DISPUTED
                await session.commit()
                return
            session.add(m.Task(job=job, shard=index, role=Role.REFEREE, attempt=0, model_digest=primary.model_digest,
                               excluded_owners=[], status=TaskStatus.DONE, provider_owner=referee.owner, fault=False,
                               digest=activations.sha256(judged).hex()))
            if verdict == "checker":
                primary_row.fault, replica.fault = False, True
                self.pipelines.decided(shard, Verification.REFEREE)
            else:
                primary_row.fault, replica.fault = True, False
                layer = await self._first_divergent_layer(primary.claims["url"], referee.url, data, span, hidden)
                shard.output = {**(shard.output or {}), "divergent_layer": layer}
                shard.verification = Verification.REFEREE
                run_row = await session.get(m.PipelineRun, job)
                run_row.excluded_owners = sorted({*run_row.excluded_owners, primary.provider_owner})
                log.warning("job %s shard %d: %s lied (first divergent layer %s); its request is driven again",
                            job, index, primary.provider_owner, layer)
            await session.commit()

    async def _first_divergent_layer(self, accused: str, referee: str, data: bytes, span: Span, hidden: int) -> int | None:
        """Both trace every layer over the recorded input; the first layer where they part, as a model layer."""
        from marketplace.pipeline.checks import first_divergent_layer
        from provider.pipeline.driver import trace

        try:
            layer = first_divergent_layer(await trace(self.pipelines.http, accused, data, hidden),
                                          await trace(self.pipelines.http, referee, data, hidden))
        except (aiohttp.ClientError, asyncio.TimeoutError, PipelineError) as exc:
            log.warning("no trace from %s: %s", accused, exc)
            return None
        return None if layer is None else span.first + layer
