"""Tasks in, results out: the aggregator's task payloads run on loaded models, batched by model and operation.

No I/O here: the node (node.py) claims, journals and posts; this decides what
each task means and what digest it commits to.

    role      generate (and chat)                   embed
    primary   generate; digest of the token ids     embed; digest of the vector
    replica   check the primary's tokens;           embed again; digest of the vector
              digest of (its digest, the outcome)
    referee   check each claim; no digest           embed again; no digest

A chat shard is generation from its messages rendered by the model's own chat template; it ends at the
model's end-of-turn token (its eos), which stays in the token ids the digest covers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from marketplace.digests import (
    DecodingParams,
    embedding_digest,
    generation_digest,
    input_digest,
)
from marketplace.verification import (
    DEFAULT_TIE_TOLERANCE,
    check_digest,
    check_generation,
)
from marketplace.vocabulary import GENERATIVE, Kind, Role
from provider.embedding import embed_batch
from provider.errors import ModelMissing, ProviderError, TaskMalformed
from provider.generation import (
    CheckRequest,
    GenerationRequest,
    check_batch,
    generate_batch,
)
from provider.journal import Result
from provider.models import LoadedModel, ModelKind


@dataclass(frozen=True)
class Task:
    """A claimed task, parsed: what the aggregator sent, checked for shape."""

    id: int
    job: str
    shard: int
    role: str  # primary | replica | referee
    kind: str  # generate | chat | embed
    model: str  # digest, hex
    params: DecodingParams | None
    input: dict
    claims: list[dict]
    epoch_place: tuple[str, int] | None = None  # an epoch job's shard: (channel, place among its shards)

    @property
    def generates(self) -> bool:
        return self.kind in GENERATIVE

    def text(self, lm: LoadedModel) -> str:
        """What the model reads: the prompt, the text to embed, or the conversation in the model's chat template."""
        if self.kind != Kind.CHAT:
            return self.input["prompt" if self.kind == Kind.GENERATE else "text"]
        if not getattr(lm.tokenizer, "chat_template", None):
            raise ModelMissing(f"model {lm.name} has no chat template")
        return lm.tokenizer.apply_chat_template(self.input["messages"], tokenize=False, add_generation_prompt=True)

    @property
    def input_digest(self) -> bytes:
        return input_digest(self.input)

    @classmethod
    def parse(cls, payload: Any) -> Task:
        try:
            kind, role = payload["kind"], payload["role"]
            if kind not in (*GENERATIVE, Kind.EMBED) or role not in (Role.PRIMARY, Role.REPLICA, Role.REFEREE):
                raise ValueError(f"unknown kind {kind!r} or role {role!r}")
            if kind == Kind.CHAT:
                _messages(payload["input"])
            else:
                field = "prompt" if kind == Kind.GENERATE else "text"
                if not isinstance(payload["input"], dict) or not isinstance(payload["input"].get(field), str):
                    raise ValueError(f"input must be {{{field}: string}}")
            params = DecodingParams.parse(payload["params"]) if kind in GENERATIVE else None
            claims = payload.get("claims") or []
            checks_tokens = kind in GENERATIVE and role != Role.PRIMARY
            if checks_tokens and (not claims or not all(isinstance(c, dict) and isinstance(c.get("output"), dict)
                                                        for c in claims)):
                raise ValueError("a check needs the claims it checks")
            place = payload.get("epoch")
            if place is not None and not (isinstance(place, dict) and isinstance(place.get("channel"), str)
                                          and isinstance(place.get("seq"), int) and place["seq"] >= 0):
                raise ValueError("an epoch job's task names its shard's channel and place")
            return cls(int(payload["task"]), str(payload["job"]), int(payload["shard"]), role, kind,
                       str(payload["model_digest"]), params, payload["input"], claims,
                       (place["channel"], place["seq"]) if place is not None else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise TaskMalformed(f"cannot read task {payload.get('task') if isinstance(payload, dict) else payload!r}: {exc}") from exc


def _messages(shard_input: Any) -> None:
    messages = shard_input.get("messages") if isinstance(shard_input, dict) else None
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages):
        raise ValueError("a chat input is {messages: [{role, content}, ...]}")


def _claimed_tokens(claim: dict) -> list[int]:
    tokens = claim["output"].get("token_ids")
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise TaskMalformed("a claim's output has no token_ids")
    return tokens


Progress = Callable[[Task, list[int]], None]


class Executor:
    """Runs tasks on the models this node serves."""

    def __init__(self, models: Sequence[LoadedModel], tie_tolerance: float = DEFAULT_TIE_TOLERANCE) -> None:
        self.models = {m.hex: m for m in models}
        self.tie_tolerance = tie_tolerance

    def run(self, tasks: Sequence[Task], progress: Progress | None = None) -> list[Result]:
        """Each task's result, or a hand-back naming why this node cannot run it. `progress(task, tokens so far)`
        hears a primary generation's tokens as they are chosen."""
        groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
        results: dict[int, Result] = {}
        for task in tasks:
            lm = self.models.get(task.model)
            if lm is None:
                results[task.id] = _declined(task, ModelMissing(f"this node does not serve model {task.model}"))
            elif (lm.kind is ModelKind.CAUSAL_LM) != task.generates:
                results[task.id] = _declined(task, ModelMissing(f"model {lm.name} cannot {task.kind}"))
            else:
                operation = "check" if task.generates and task.role != Role.PRIMARY else "generate" if task.generates else "embed"
                groups[(task.model, operation)].append(task)
        for (model, operation), batch in groups.items():
            run = {"generate": partial(self._generate, progress=progress), "check": self._check, "embed": self._embed}[operation]
            for task, result in zip(batch, self._isolating(run, self.models[model], batch)):
                results[task.id] = result
        return [results[t.id] for t in tasks]

    @staticmethod
    def _isolating(run: Callable, lm: LoadedModel, batch: list[Task]) -> list[Result]:
        """One batch; if a task in it cannot run, each task alone, so only that one is handed back."""
        try:
            return run(lm, batch)
        except ProviderError as exc:
            if len(batch) == 1:
                return [_declined(batch[0], exc)]
        isolated = []
        for task in batch:
            try:
                isolated.extend(run(lm, [task]))
            except ProviderError as exc:
                isolated.append(_declined(task, exc))
        return isolated

    def _generate(self, lm: LoadedModel, batch: list[Task], progress: Progress | None = None) -> list[Result]:
        on_token = (lambda row, tokens: progress(batch[row], tokens)) if progress is not None else None
        generations = generate_batch(lm, [GenerationRequest(t.text(lm), t.params, t.input_digest) for t in batch], on_token)
        return [Result(t.id, t.job, t.shard, t.role,
                       generation_digest(lm.digest, t.input_digest, t.params, g.token_ids).hex(),
                       {"token_ids": g.token_ids, "text": g.text, "top2_gaps": g.top2_gaps, "prompt_tokens": g.prompt_tokens})
                for t, g in zip(batch, generations)]

    def _check(self, lm: LoadedModel, batch: list[Task]) -> list[Result]:
        requests, owners = [], []
        for task in batch:
            claims = task.claims[:1] if task.role == Role.REPLICA else task.claims
            for claim in claims:
                requests.append(CheckRequest(task.text(lm), task.params, task.input_digest, _claimed_tokens(claim)))
                owners.append(task.id)
        checks = check_batch(lm, requests)
        by_task: dict[int, list] = defaultdict(list)
        for owner, rows in zip(owners, checks):
            by_task[owner].append(rows)
        results = []
        for task in batch:
            rows = by_task[task.id]
            output = {"checks": [[[c.argmax, c.top2_gap, c.claimed_gap] for c in claim_rows] for claim_rows in rows]}
            digest = None
            if task.role == Role.REPLICA:
                claim = task.claims[0]
                outcome = check_generation(_claimed_tokens(claim), rows[0], self.tie_tolerance).outcome
                digest = check_digest(bytes.fromhex(claim["digest"]), outcome).hex()
            results.append(Result(task.id, task.job, task.shard, task.role, digest, output))
        return results

    def _embed(self, lm: LoadedModel, batch: list[Task]) -> list[Result]:
        vectors = embed_batch(lm, [t.text(lm) for t in batch])
        return [Result(t.id, t.job, t.shard, t.role,
                       None if t.role == Role.REFEREE else embedding_digest(lm.digest, t.input_digest, e.vector).hex(),
                       {"vector": e.vector})
                for t, e in zip(batch, vectors)]


def _declined(task: Task, error: ProviderError) -> Result:
    return Result(task.id, task.job, task.shard, task.role, None, None, {"code": error.code, "message": str(error)})
