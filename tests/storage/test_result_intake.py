"""Results taken by the aggregator (ProviderResults.accept) on SQLite and PostgreSQL: a signed message's nonce is
spent with the work it carries, in one transaction."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from solders.keypair import Keypair
from sqlalchemy import func, select

from marketplace.aggregator import models as m
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.db import sessions
from marketplace.aggregator.errors import Forbidden, NotFound
from marketplace.aggregator.service import Aggregator
from marketplace.chain.client import TesseraChain
from marketplace.digests import DecodingParams, generation_digest, input_digest
from marketplace.errors import MessageReplayed
from marketplace.messages import sign_message
from marketplace.vocabulary import JobStatus, Kind, Role, ShardStatus, TaskStatus

MODEL = "ab" * 32
JOB = str(Keypair().pubkey())
PROMPT = {"prompt": "hello"}


@pytest.fixture
async def service(engine):
    make = sessions(engine)
    config = AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("/dev/null"), market=str(Keypair().pubkey()))
    chain = TesseraChain(config.rpc_url)  # never called: results are taken without the chain
    yield Aggregator(config, make, chain, Keypair())
    await chain.close()


async def _claimed_task(service: Aggregator, provider: Keypair, shard: int = 0) -> int:
    now = int(time.time())
    async with service.sessions() as session:
        if shard:  # the job and its provider are there already
            return await _task(session, provider, shard, now)
        session.add(m.Provider(owner=str(provider.pubkey()), address=str(Keypair().pubkey()), endpoint="http://x", models=[MODEL],
                               capacity=1, registered_at=now, last_seen=now, tasks_done=0, timeouts=0, faults=0, busy_seconds=0.0))
        session.add(m.Quote(seed_commitment="c" * 64, seed="00" * 32, model_digest=MODEL, shard_count=1, price_per_shard=1,
                            expires_at=now + 600, job=JOB))
        await session.flush()
        session.add(m.Job(address=JOB, client="c", chain_job_id=1, kind=Kind.GENERATE, model_digest=MODEL,
                          params={"max_new_tokens": 2}, shard_count=1, price_per_shard=1, sampling_rate_bps=0,
                          deadline=now + 600, seed_commitment="c" * 64, status=JobStatus.OPEN, created_at=now, cache_hits=0))
        await session.flush()
        return await _task(session, provider, 0, now)


async def _task(session, provider: Keypair, shard: int, now: int) -> int:
    session.add(m.Shard(job=JOB, index=shard, input=PROMPT, input_digest=input_digest(PROMPT).hex(), status=ShardStatus.RUNNING))
    task = m.Task(job=JOB, shard=shard, role=Role.PRIMARY, attempt=0, model_digest=MODEL, excluded_owners=[],
                  status=TaskStatus.CLAIMED, provider_owner=str(provider.pubkey()), claimed_at=now, claim_deadline=now + 600)
    session.add(task)
    await session.commit()
    return task.id


def _results(provider: Keypair, task: int):
    tokens = [1, 2]
    digest = generation_digest(bytes.fromhex(MODEL), input_digest(PROMPT), DecodingParams(max_new_tokens=2), tokens).hex()
    return sign_message(provider, "results", {"results": [{"task": task, "digest": digest,
                                                           "output": {"token_ids": tokens, "text": ""}}]}, job=JOB)


async def _state(service: Aggregator) -> tuple:
    async with service.sessions() as session:
        nonces = (await session.execute(select(func.count()).select_from(m.Nonce))).scalar_one()
        statuses = set((await session.execute(select(m.Task.status))).scalars())
        provider = (await session.execute(select(m.Provider))).scalar_one()
        return nonces, statuses.pop() if len(statuses) == 1 else statuses, provider.tasks_done


async def test_results_are_taken_once_and_a_replay_changes_nothing(service):
    provider = Keypair()
    task = await _claimed_task(service, provider)
    message = _results(provider, task)
    assert await service.results.accept(JOB, message) == {"accepted": [task], "declined": []}
    assert await _state(service) == (1, TaskStatus.DONE, 1)
    with pytest.raises(MessageReplayed):
        await service.results.accept(JOB, message)
    assert await _state(service) == (1, TaskStatus.DONE, 1)


async def test_a_refused_message_spends_no_nonce_and_is_refused_for_its_reason_again(service):
    provider, stranger = Keypair(), Keypair()
    task = await _claimed_task(service, provider)
    message = _results(stranger, task)
    for _ in range(2):  # the same answer twice: not "replayed", since nothing was done the first time
        with pytest.raises(Forbidden):
            await service.results.accept(JOB, message)
        assert await _state(service) == (0, TaskStatus.CLAIMED, 0)


async def test_messages_from_one_provider_taken_at_once_all_count(service):
    provider = Keypair()
    tasks = [await _claimed_task(service, provider, shard) for shard in range(4)]
    await asyncio.gather(*(service.results.accept(JOB, _results(provider, task)) for task in tasks))
    assert await _state(service) == (4, TaskStatus.DONE, 4)


async def test_results_for_a_job_that_does_not_exist_are_refused(service):
    provider = Keypair()
    task = await _claimed_task(service, provider)
    stranger_job = str(Keypair().pubkey())
    message = sign_message(provider, "results", {"results": [{"task": task, "error": {"code": "busy"}}]}, job=stranger_job)
    with pytest.raises(NotFound) as refused:
        await service.results.accept(stranger_job, message)
    assert refused.value.code == "job_not_found" and await _state(service) == (0, TaskStatus.CLAIMED, 0)


def _progress(provider: Keypair, task: int, tokens: list[int]):
    return sign_message(provider, "progress", {"partials": [{"task": task, "token_ids": tokens, "text": "x" * len(tokens)}]}, job=JOB)


async def test_progress_is_kept_for_streams_only_from_the_tasks_provider_and_forgotten_with_its_results(service):
    provider, stranger = Keypair(), Keypair()
    task = await _claimed_task(service, provider)
    with pytest.raises(Forbidden):
        await service.results.progress(JOB, _progress(stranger, task, [1]))
    with pytest.raises(NotFound):
        await service.results.progress(JOB, _progress(provider, task + 99, [1]))
    assert service.results.partials.get(JOB, 0) is None
    assert await service.results.progress(JOB, _progress(provider, task, [1])) == {"taken": [task]}
    assert await service.results.progress(JOB, _progress(provider, task, [1])) == {"taken": []}  # sent again: nothing new
    assert service.results.partials.get(JOB, 0).token_ids == (1,)
    await service.results.accept(JOB, _results(provider, task))
    assert service.results.partials.get(JOB, 0) is None
    assert await service.results.progress(JOB, _progress(provider, task, [1, 2])) == {"taken": []}  # done: no longer shown
