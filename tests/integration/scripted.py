"""Scripted providers for aggregator tests: a tiny deterministic language model, run honestly or not.

The model is real in the sense that matters here: outputs are a function of
the inputs, and a teacher-forced check recomputes them, so a lie is
detectable exactly as with a transformer. Behaviours: honest, liar (wrong
tokens on some shards, consistent digests), lazy (claims, never answers),
digest_only (commits digests, sends no output), copier (copies another's digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import aiohttp
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import EpochAccount, JobAccount, ProgramError, epoch_address
from marketplace.chain import instructions as ix
from marketplace.chain.client import TesseraChain
from marketplace.digests import DecodingParams, embedding_digest, generation_digest, input_digest
from marketplace.merkle import merkle_root
from marketplace.messages import sign_message
from marketplace.verification import TokenCheck, check_digest, check_generation

VOCAB = 1000
MODEL_DIGEST = bytes(range(32))
MODEL_NAME = "scripted-lm"  # its id in the OpenAI API


def next_token(context: list[int]) -> int:
    return (sum(context) * 31 + len(context) * 7) % VOCAB


def prompt_tokens(prompt: str) -> list[int]:
    return list(prompt.encode())


def generate(prompt: str, max_new_tokens: int) -> list[int]:
    context = prompt_tokens(prompt)
    out = []
    for _ in range(max_new_tokens):
        token = next_token(context)
        out.append(token)
        context.append(token)
    return out


def check(prompt: str, claimed: list[int]) -> list[list[float]]:
    """Teacher-forced: at each position the model's argmax, its top-2 gap, and the claimed token's gap."""
    context, rows = prompt_tokens(prompt), []
    for token in claimed:
        best = next_token(context)
        rows.append([best, 1.0, 0.0 if token == best else 2.0])
        context.append(token)
    return rows


def prompt_of(shard_input: dict) -> str:
    """A generation's prompt; a conversation as its turns, one a line (this model's chat template)."""
    if "messages" in shard_input:
        return "\n".join(f"{m['role']}: {m['content']}" for m in shard_input["messages"])
    return shard_input["prompt"]


def text_of(tokens: list[int]) -> str:
    return "".join(chr(ord("a") + t % 26) for t in tokens)


def embed(text: str) -> list[float]:
    data = text.encode()
    return [((sum(data) * (i + 1)) % 997) / 997 for i in range(8)]


class Refused(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ScriptedProvider:
    aggregator: str
    chain: TesseraChain
    market: Pubkey
    behaviour: str = "honest"  # honest | liar | lazy | digest_only | copier | decliner | misstreamer
    lie_on: set[int] = field(default_factory=lambda: {0, 1, 2, 3, 4, 5, 6, 7})
    keypair: Keypair = field(default_factory=Keypair)
    seen: dict[tuple[str, int], bytes] = field(default_factory=dict)  # digests it computed, by (job, shard)
    source: ScriptedProvider | None = None  # for a copier: whose digests it copies
    backlog: dict[str, dict[int, bytes]] = field(default_factory=dict)  # job -> shard -> digest, posted, to commit
    tasks_done: int = 0
    fees_paid: int = 0  # lamports of transaction fees it paid
    unposted: dict[str, tuple[list[dict], dict[int, bytes]]] = field(default_factory=dict)  # job -> results not yet taken
    delivered: set[int] = field(default_factory=set)  # task ids handed to it
    stream_delay: float | None = None  # seconds between tokens shown as they are generated (None: no progress)
    places: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # an epoch's (job, shard) -> (channel, seq)
    unfunded: dict[str, float] = field(default_factory=dict)  # epoch job -> when the chain last showed it unfunded
    committing: bool = True  # False: it posts results but holds its commitments back (a node slow to reach the chain)

    @property
    def owner(self) -> Pubkey:
        return self.keypair.pubkey()

    async def join(self, stake: int, endpoint: str) -> None:
        await self.chain.airdrop(self.owner, stake + 10**9)
        await self.send(ix.register_provider(self.owner, self.market, endpoint, stake, 4))
        await self.post("/v1/providers", sign_message(self.keypair, "register", {
            "models": [MODEL_DIGEST.hex()], "names": {MODEL_DIGEST.hex(): MODEL_NAME}, "capacity": 4, "endpoint": endpoint}))

    async def send(self, instruction) -> None:
        self.fees_paid += (await self.chain.send([instruction], [self.keypair])).fee

    async def post(self, path: str, message) -> dict:
        async with aiohttp.ClientSession() as session:
            async with session.post(self.aggregator + path, json=message.to_json()) as response:
                answer = await response.json()
                if response.status >= 400:
                    raise Refused(response.status, f"{path}: {response.status} {answer}")
                return answer

    def run_task(self, task: dict) -> tuple[bytes | None, dict | None]:
        shard_input, params = task["input"], task["params"]
        generative = task["kind"] in ("generate", "chat")
        if task["role"] == "replica" and generative:  # check the primary's tokens
            claim = task["claims"][0]
            rows = check(prompt_of(shard_input), claim["output"]["token_ids"])
            if self.behaviour == "liar" and task["shard"] in self.lie_on:
                rows[0] = [(rows[0][0] + 1) % VOCAB, 1.0, 2.0]  # a false accusation
            checks = [TokenCheck(int(a), g, c) for a, g, c in rows]
            outcome = check_generation(claim["output"]["token_ids"], checks).outcome
            return check_digest(bytes.fromhex(claim["digest"]), outcome), {"checks": [rows]}
        if task["role"] == "referee":
            if generative:
                return None, {"checks": [check(prompt_of(shard_input), c["output"]["token_ids"]) for c in task["claims"]]}
            return None, {"vector": embed(shard_input["text"])}
        model = bytes.fromhex(task["model_digest"])
        if generative:
            decoding = DecodingParams(**params)
            tokens = generate(prompt_of(shard_input), decoding.max_new_tokens)
            if self.behaviour == "liar" and task["shard"] in self.lie_on:
                tokens = [(t + 1) % VOCAB for t in tokens]
            output = {"token_ids": tokens, "text": text_of(tokens), "prompt_tokens": len(prompt_tokens(prompt_of(shard_input)))}
            return generation_digest(model, input_digest(shard_input), decoding, tokens), output
        vector = embed(shard_input["text"])
        return embedding_digest(model, input_digest(shard_input), vector), {"vector": vector}

    async def work_once(self) -> int:
        await self.post_results()
        claimed = (await self.post("/v1/work", sign_message(self.keypair, "claim", {"max_tasks": 16, "wait": 0.5})))["tasks"]
        self.delivered.update(task["task"] for task in claimed)
        if self.behaviour == "lazy":
            return len(claimed)
        by_job: dict[str, list[dict]] = {}
        runs: dict[str, dict[int, bytes]] = {}
        for task in claimed:
            if self.behaviour == "decliner":  # as a node whose model cannot take the input
                error = {"code": "input_too_large", "message": "the prompt is longer than this model allows"}
                by_job.setdefault(task["job"], []).append({"task": task["task"], "error": error})
                continue
            digest, output = self.run_task(task)
            if self.stream_delay is not None and task["role"] == "primary" and output and "token_ids" in output:
                await self.stream(task, output["token_ids"])
            if self.behaviour == "digest_only" and task["role"] != "referee":
                output = None
            if self.behaviour == "copier" and task["role"] != "referee":
                digest = self.source.seen.get((task["job"], task["shard"]), bytes(32)) if self.source else bytes(32)
                output = None
            elif digest is not None:
                self.seen[(task["job"], task["shard"])] = digest
            item = {"task": task["task"], "digest": digest.hex() if digest else None, "output": output}
            by_job.setdefault(task["job"], []).append(item)
            if task["role"] != "referee":
                runs.setdefault(task["job"], {})[task["shard"]] = digest
                if "epoch" in task:
                    self.places[(task["job"], task["shard"])] = (task["epoch"]["channel"], task["epoch"]["seq"])
        for job, items in by_job.items():
            self.unposted[job] = (items, runs.get(job, {}))
        await self.post_results()
        return len(claimed)

    async def stream(self, task: dict, tokens: list[int]) -> None:
        """Shows the answer as a node generating it does, token by token before its results; a misstreamer shows
        other tokens than it then posts."""
        shown = [(t + 1) % VOCAB for t in tokens] if self.behaviour == "misstreamer" else tokens
        for n in range(1, len(shown) + 1):
            partial = {"task": task["task"], "token_ids": shown[:n], "text": text_of(shown[:n])}
            await self.post(f"/v1/jobs/{task['job']}/progress",
                            sign_message(self.keypair, "progress", {"partials": [partial]}, job=task["job"]))
            await asyncio.sleep(self.stream_delay)

    async def post_results(self) -> None:
        """Claims are at-least-once and results idempotent: what was not surely taken is sent
        again; a shard is committed on chain once the aggregator has its output."""
        for job, (items, digests) in list(self.unposted.items()):
            try:
                await self.post(f"/v1/jobs/{job}/results", sign_message(self.keypair, "results", {"results": items}, job=job))
            except Refused as exc:
                if exc.status in (404, 409):  # the work went to someone else meanwhile
                    del self.unposted[job]
                    continue
                raise
            del self.unposted[job]
            self.backlog.setdefault(job, {}).update(digests)
            self.tasks_done += len(items)
        await self.commit_backlog()

    async def commit_backlog(self) -> None:
        if not self.committing:
            return
        for job, by_shard in list(self.backlog.items()):
            if any((job, shard) in self.places for shard in by_shard):
                by_shard = await self.numbered(job, by_shard)
                if by_shard is None:
                    continue  # an epoch not yet funded on chain: its work waits
            entries = sorted(by_shard.items())
            root = merkle_root([digest for _, digest in entries])
            try:
                await self.send(ix.submit_results(self.owner, self.market, Pubkey.from_string(job), [s for s, _ in entries], root))
                del self.backlog[job]
            except ProgramError as exc:
                if exc.name not in ("AssignmentPending",):
                    del self.backlog[job]  # the job is gone or closed: nothing to commit

    async def numbered(self, job: str, by_shard: dict[int, bytes]) -> dict[int, bytes] | None:
        """An epoch's shards by their index on chain (the Epoch account's first shard of each channel + place), once
        every channel has paid; None before."""
        key = Pubkey.from_string(job)
        if time.monotonic() - self.unfunded.get(job, -1.0) < 0.5:
            return None  # looked a moment ago
        account = await self.chain.fetch(JobAccount, key)
        if account is None or account.unfunded_shards:
            self.unfunded[job] = time.monotonic()
            return None
        first = {str(e.channel): e.first_shard for e in (await self.chain.fetch(EpochAccount, epoch_address(key)[0])).entries}
        numbered = {}
        for shard, digest in by_shard.items():
            channel, seq = self.places[(job, shard)]
            numbered[first[channel] + seq] = digest
        return numbered

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(RuntimeError, aiohttp.ClientError):
                if await self.work_once() == 0:
                    await asyncio.sleep(0.05)
