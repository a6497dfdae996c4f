"""Shard results the aggregator takes and decides per second, on SQLite and on PostgreSQL.

The work of one result: verify the provider's signed message, check the task
and the output's digest, write it, then decide the shard (digest recomputed,
verdict, cache). Rows are set up directly; no chain is involved.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from solders.keypair import Keypair

from marketplace.aggregator import models as m
from marketplace.aggregator.conductor import Conductor
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.db import create_engine, migrate, sessions
from marketplace.aggregator.service import Aggregator
from marketplace.chain.client import TesseraChain
from marketplace.digests import DecodingParams, generation_digest, input_digest
from marketplace.messages import sign_message
from marketplace.vocabulary import JobStatus, Kind, Role, ShardStatus, TaskStatus
from tests.storage.conftest import POSTGRES

JOBS, SHARDS, BATCH = 8, 128, 32
MODEL = "ab" * 32
PARAMS = {"max_new_tokens": 8}


@dataclass(frozen=True)
class ResultsRate:
    database: str
    results: int
    accept_per_s: float
    decide_per_s: float

    @property
    def end_to_end_per_s(self) -> float:
        return self.results / (self.results / self.accept_per_s + self.results / self.decide_per_s)


async def _measure(url: str, schema: str | None, label: str) -> ResultsRate:
    await migrate(url, schema)
    engine = create_engine(url, schema)
    make = sessions(engine)
    provider = Keypair()
    owner = str(provider.pubkey())
    config = AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("/dev/null"), market=str(Keypair().pubkey()))
    chain = TesseraChain(config.rpc_url)
    service = Aggregator(config, make, chain, Keypair())
    now = int(time.time())
    outputs = {}
    async with make() as session:
        session.add(m.Provider(owner=owner, address=str(Keypair().pubkey()), endpoint="http://x", models=[MODEL], capacity=8,
                               registered_at=now, last_seen=now, tasks_done=0, timeouts=0, faults=0, busy_seconds=0.0))
        for j in range(JOBS):
            job = str(Keypair().pubkey())
            commitment = uuid.uuid4().hex * 2
            session.add(m.Quote(seed_commitment=commitment, seed="00" * 32, model_digest=MODEL, shard_count=SHARDS,
                                price_per_shard=1, expires_at=now + 600, job=job))
            await session.flush()
            session.add(m.Job(address=job, client=owner, chain_job_id=j, kind=Kind.GENERATE, model_digest=MODEL, params=PARAMS,
                              shard_count=SHARDS, price_per_shard=1, sampling_rate_bps=0, deadline=now + 600,
                              seed_commitment=commitment, status=JobStatus.OPEN, created_at=now, cache_hits=0))
            await session.flush()
            for s in range(SHARDS):
                shard_input = {"prompt": f"job {j} shard {s}"}
                session.add(m.Shard(job=job, index=s, input=shard_input, input_digest=input_digest(shard_input).hex(), status=ShardStatus.RUNNING))
            await session.flush()
            for s in range(SHARDS):
                session.add(m.Task(job=job, shard=s, role=Role.PRIMARY, attempt=0, model_digest=MODEL, excluded_owners=[],
                                   status=TaskStatus.CLAIMED, provider_owner=owner, claimed_at=now, claim_deadline=now + 600))
            tokens = list(range(8))
            outputs[job] = {s: generation_digest(bytes.fromhex(MODEL), input_digest({"prompt": f"job {j} shard {s}"}),
                                                 DecodingParams(**PARAMS), tokens).hex() for s in range(SHARDS)}
        await session.commit()
        tasks = (await session.execute(m.Task.__table__.select())).all()
    messages = []
    by_job: dict[str, list] = {}
    for task in tasks:
        by_job.setdefault(task.job, []).append({"task": task.id, "digest": outputs[task.job][task.shard],
                                                "output": {"token_ids": list(range(8)), "text": ""}})
    for job, items in by_job.items():
        for start in range(0, len(items), BATCH):
            messages.append((job, sign_message(provider, "results", {"results": items[start:start + BATCH]}, job=job)))
    total = len(tasks)
    start = time.perf_counter()
    for job, message in messages:
        await service.accept_results(job, message)
    accept = total / (time.perf_counter() - start)
    conductor = Conductor(service)
    start = time.perf_counter()
    await conductor.decide_shards(list(by_job))
    decide = total / (time.perf_counter() - start)
    async with make() as session:
        verified = (await session.execute(m.Shard.__table__.select().where(m.Shard.status == ShardStatus.VERIFIED))).all()
    if len(verified) != total:
        raise RuntimeError(f"{label}: only {len(verified)} of {total} shards decided")
    await chain.close()
    await engine.dispose()
    return ResultsRate(label, total, accept, decide)


async def _both() -> list[ResultsRate]:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await _measure(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", None, "SQLite")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        postgres = await _measure(POSTGRES.replace("postgresql://", "postgresql+asyncpg://"), schema, "PostgreSQL")
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return [sqlite, postgres]


def measure() -> list[ResultsRate]:
    return asyncio.run(_both())


def markdown(rows: list[ResultsRate]) -> str:
    lines = [
        "## Aggregator: shard results processed per second",
        "",
        f"{JOBS} jobs × {SHARDS} shards; results arrive {BATCH} to a signed message. *Take*: signature, task and",
        "output checks, write. *Decide*: digest recomputed from the output, verdict, rows updated. Goal: ≥ 2,000/s",
        "on PostgreSQL (end to end: take + decide).",
        "",
        "| database | results | take /s | decide /s | end to end /s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.database} | {r.results:,} | {r.accept_per_s:,.0f} | {r.decide_per_s:,.0f} | {r.end_to_end_per_s:,.0f} |")
    return "\n".join(lines) + "\n"
