"""What a provider's signed results message does to the tasks it names: pure, tasks in and an intake out; the
service writes it.

Everything is checked here, once: what is stored, the conductor can rely on. Whether an output is what its digest
says is decided later, with the shard (decisions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from marketplace.aggregator.errors import BadRequest, Conflict, Forbidden, NotFound
from marketplace.aggregator.outputs import TOKEN_ID_LIMIT, parse_checks, parse_digest, result_digest
from marketplace.digests import DecodingParams
from marketplace.vocabulary import GENERATIVE, Kind, Role, TaskStatus

MAX_RESULTS = 64  # results in one message: as many as one claim hands out
MAX_PARTIAL_TEXT = 65_536  # characters of an answer in progress


class ClaimedTask(Protocol):
    """A task row as the intake reads it."""

    id: int
    job: str
    role: str
    status: str
    provider_owner: str | None
    digest: str | None
    claims: list | None
    claimed_at: int | None
    version: int


@dataclass(frozen=True)
class JobTerms:
    """What a job's results are checked against."""

    address: str
    kind: Kind
    model: bytes
    params: DecodingParams | None


@dataclass
class Intake:
    accepted: list[int] = field(default_factory=list)  # every task the message settled, retries included
    declined: list[int] = field(default_factory=list)  # handed back: another provider runs them
    done: list[dict] = field(default_factory=list)  # rows to write: {id, version, digest, output}
    busy_seconds: int = 0  # claim-to-result time of the tasks done, for the provider's record


def parse_results(body: Any) -> list[dict]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not results or len(results) > MAX_RESULTS:
        raise BadRequest(f"results must be a list of 1 to {MAX_RESULTS} {{task, digest, output}}")
    if not all(isinstance(item, dict) and isinstance(item.get("task"), int) for item in results):
        raise BadRequest("each result is {task, digest, output} or {task, error: {code, message}}")
    return results


def parse_progress(body: Any, max_new_tokens: int) -> list[dict]:
    """A provider's answers in progress: [{task, token_ids, text}], each at most the job's max_new_tokens long."""
    partials = body.get("partials") if isinstance(body, dict) else None
    if not isinstance(partials, list) or not partials or len(partials) > MAX_RESULTS:
        raise BadRequest(f"partials must be a list of 1 to {MAX_RESULTS} {{task, token_ids, text}}")
    for item in partials:
        tokens = item.get("token_ids") if isinstance(item, dict) else None
        if (not isinstance(item.get("task") if isinstance(item, dict) else None, int) or not isinstance(tokens, list)
                or not 0 < len(tokens) <= max_new_tokens or not all(isinstance(t, int) and 0 <= t < TOKEN_ID_LIMIT for t in tokens)
                or not isinstance(item.get("text"), str) or len(item["text"]) > MAX_PARTIAL_TEXT):
            raise BadRequest(f"each partial is {{task, token_ids: [1 to {max_new_tokens} ids], text}}")
    return partials


def take_results(job: JobTerms, owner: str, results: list[dict], tasks: Mapping[int, ClaimedTask],
                 shard_inputs: Mapping[int, bytes], now: int) -> Intake:
    """Raises (and nothing is written) if any result is not the owner's to give, is malformed, or names a task that
    can no longer take one; results already taken, sent again, are accepted again and change nothing."""
    intake, seen = Intake(), set()
    for item in results:
        task = tasks.get(item["task"])
        if task is None or task.job != job.address:
            raise NotFound(f"task {item['task']} is not part of job {job.address}", "task_not_found")
        if task.provider_owner != owner:
            raise Forbidden(f"task {task.id} was not handed to {owner}", "task_not_yours")
        if task.id in seen:
            raise BadRequest(f"task {task.id} appears twice in one message")
        seen.add(task.id)
        if _already_taken(task, item):
            intake.accepted.append(task.id)
            continue
        if task.status != TaskStatus.CLAIMED:
            raise Conflict(f"task {task.id} is {task.status}: it can no longer take results", "task_closed")
        if item.get("error") is not None:  # the provider cannot run it (model, limits, shutting down)
            error = item["error"]
            if not isinstance(error, dict) or not isinstance(error.get("code"), str):
                raise BadRequest("error must be {code, message}")
            intake.declined.append(task.id)
            continue
        output = item.get("output")
        _check_output(job, task, output, shard_inputs[task.id])
        digest = parse_digest(item.get("digest")) if task.role != Role.REFEREE else task.digest
        intake.done.append({"id": task.id, "version": task.version, "digest": digest, "output": output})
        intake.busy_seconds += max(now - (task.claimed_at or now), 0)
        intake.accepted.append(task.id)
    return intake


def _already_taken(task: ClaimedTask, item: dict) -> bool:
    """A retry of a result or of a decline already taken (the provider did not see the answer)."""
    if task.status == TaskStatus.DONE:
        return task.role != Role.REFEREE and task.digest == item.get("digest")
    return task.status == TaskStatus.DECLINED and item.get("error") is not None


def _check_output(job: JobTerms, task: ClaimedTask, output: Any, shard_input: bytes) -> None:
    """A referee must answer; other runs may withhold their output (it is then at fault when decided)."""
    if output is None and task.role != Role.REFEREE:
        return
    if job.kind in GENERATIVE and task.role != Role.PRIMARY:
        parse_checks(output, 1 if task.role == Role.REPLICA else len(task.claims or []))
    else:
        result_digest(job.kind, job.model, shard_input, job.params, output)
