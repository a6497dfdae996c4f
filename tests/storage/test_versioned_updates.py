"""Batched optimistic-locking UPDATEs (db.versioned_update / flush_versioned) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from marketplace.aggregator import models as m
from marketplace.aggregator.db import flush_versioned, sessions, versioned_update
from marketplace.vocabulary import JobStatus, Kind, Role, TaskStatus


async def _tasks(make, count: int) -> list[int]:
    async with make() as session:
        session.add(m.Quote(seed_commitment="c" * 64, seed="00" * 32, model_digest="ab" * 32, shard_count=count,
                            price_per_shard=1, expires_at=9, job="J"))
        await session.flush()
        session.add(m.Job(address="J", client="c", chain_job_id=1, kind=Kind.GENERATE, model_digest="ab" * 32, params={},
                          shard_count=count, price_per_shard=1, sampling_rate_bps=0, deadline=9, seed_commitment="c" * 64,
                          status=JobStatus.OPEN, created_at=0, cache_hits=0))
        await session.flush()
        session.add_all([m.Task(job="J", shard=i, role=Role.PRIMARY, attempt=0, model_digest="ab" * 32, excluded_owners=[],
                                status=TaskStatus.CLAIMED, provider_owner="p") for i in range(count)])
        await session.commit()
        return list((await session.execute(select(m.Task.id).order_by(m.Task.id))).scalars())


async def test_one_statement_writes_every_row_and_refuses_a_stale_one(engine):
    make = sessions(engine)
    ids = await _tasks(make, 3)
    rows = [{"id": i, "version": 1, "digest": f"{i:064x}", "output": {"token_ids": [i], "text": "é"}} for i in ids]
    async with make() as session:
        written = await session.execute(*versioned_update(m.Task.__table__, rows[:2], {"status": TaskStatus.DONE}))
        assert written.rowcount == 2
        await session.commit()
    async with make() as session:  # rows[0] was read at version 1 and has moved on: only rows[2] matches
        stale = await session.execute(*versioned_update(m.Task.__table__, [rows[0], rows[2]], {"status": TaskStatus.DONE}))
        assert stale.rowcount == 1
        await session.rollback()
        tasks = (await session.execute(select(m.Task).order_by(m.Task.id))).scalars().all()
    assert [(t.status, t.version, t.output) for t in tasks] == [
        (TaskStatus.DONE, 2, {"token_ids": [ids[0]], "text": "é"}), (TaskStatus.DONE, 2, {"token_ids": [ids[1]], "text": "é"}),
        (TaskStatus.CLAIMED, 1, None)]


async def test_the_orms_changes_are_written_in_batches_and_a_concurrent_change_is_refused(engine):
    make = sessions(engine)
    ids = await _tasks(make, 300)  # more than one batch
    async with make() as session:
        tasks = (await session.execute(select(m.Task).order_by(m.Task.id))).scalars().all()
        for task in tasks:
            task.fault = False
        await flush_versioned(session, m.Task)
        await session.commit()
    async with make() as session:
        assert set((await session.execute(select(m.Task.version))).scalars()) == {2}
        tasks = (await session.execute(select(m.Task).order_by(m.Task.id))).scalars().all()
        async with make() as other:  # someone else hands one task on meanwhile
            moved = await other.get(m.Task, ids[7])
            moved.status = TaskStatus.EXPIRED
            await other.commit()
        for task in tasks:
            task.fault = True
        with pytest.raises(StaleDataError):
            await flush_versioned(session, m.Task)
        await session.rollback()
    async with make() as session:
        assert not any((await session.execute(select(m.Task.fault))).scalars())
