"""What a results message does to the tasks it names (intake.take_results): pure, no database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from marketplace.aggregator.errors import BadRequest, Conflict, Forbidden, NotFound
from marketplace.aggregator.intake import MAX_RESULTS, JobTerms, parse_progress, parse_results, take_results
from marketplace.digests import DecodingParams
from marketplace.vocabulary import Kind, Role, TaskStatus

JOB = JobTerms("Job1", Kind.GENERATE, b"\xab" * 32, DecodingParams(max_new_tokens=4))
OWNER, DIGEST = "Owner1", "cd" * 32
OUTPUT = {"token_ids": [1, 2], "text": "hi"}


@dataclass
class Task:
    id: int
    role: str = Role.PRIMARY
    status: str = TaskStatus.CLAIMED
    job: str = "Job1"
    provider_owner: str | None = OWNER
    digest: str | None = None
    claims: list | None = None
    claimed_at: int | None = 90
    version: int = 3


def take(*tasks: Task, results: list[dict], now: int = 100):
    return take_results(JOB, OWNER, results, {t.id: t for t in tasks}, {t.id: b"\x00" * 32 for t in tasks}, now)


def test_results_become_rows_to_write_with_the_time_they_took():
    intake = take(Task(1), Task(2, claimed_at=None), results=[{"task": 1, "digest": DIGEST, "output": OUTPUT},
                                                               {"task": 2, "digest": DIGEST, "output": None}])
    assert intake.accepted == [1, 2] and intake.declined == []
    assert intake.done == [{"id": 1, "version": 3, "digest": DIGEST, "output": OUTPUT},
                           {"id": 2, "version": 3, "digest": DIGEST, "output": None}]  # withheld: at fault when decided
    assert intake.busy_seconds == 10


def test_a_decline_is_handed_back_and_retries_change_nothing():
    intake = take(Task(1), Task(2, status=TaskStatus.DONE, digest=DIGEST), Task(3, status=TaskStatus.DECLINED),
                  results=[{"task": 1, "error": {"code": "model_missing", "message": "no"}},
                           {"task": 2, "digest": DIGEST, "output": OUTPUT}, {"task": 3, "error": {"code": "busy"}}])
    assert (intake.accepted, intake.declined, intake.done) == ([2, 3], [1], [])


@pytest.mark.parametrize("task, item, error, code", [
    (Task(1, job="Job2"), {"task": 1, "digest": DIGEST}, NotFound, "task_not_found"),
    (Task(1), {"task": 7, "digest": DIGEST}, NotFound, "task_not_found"),
    (Task(1, provider_owner="Other"), {"task": 1, "digest": DIGEST}, Forbidden, "task_not_yours"),
    (Task(1, status=TaskStatus.EXPIRED), {"task": 1, "digest": DIGEST, "output": OUTPUT}, Conflict, "task_closed"),
    (Task(1, status=TaskStatus.DONE, digest="ee" * 32), {"task": 1, "digest": DIGEST, "output": OUTPUT}, Conflict, "task_closed"),
    (Task(1), {"task": 1, "digest": "CD" * 32, "output": OUTPUT}, BadRequest, "bad_request"),
    (Task(1), {"task": 1, "digest": DIGEST, "output": {"token_ids": [1] * 5}}, BadRequest, "bad_request"),
    (Task(1), {"task": 1, "error": "busy"}, BadRequest, "bad_request"),
    (Task(1, role=Role.REFEREE, claims=[{}]), {"task": 1}, BadRequest, "bad_request"),
    (Task(1, role=Role.REPLICA), {"task": 1, "digest": DIGEST, "output": {"checks": [[[1, 0.5]]]}}, BadRequest, "bad_request"),
])
def test_a_result_that_is_not_the_owners_to_give_or_is_malformed_is_refused(task, item, error, code):
    with pytest.raises(error) as caught:
        take(task, results=[item])
    assert caught.value.code == code


def test_a_task_named_twice_in_one_message_is_refused():
    with pytest.raises(BadRequest, match="twice"):
        take(Task(1), results=[{"task": 1, "error": {"code": "busy"}}, {"task": 1, "error": {"code": "busy"}}])


def test_a_referee_answers_for_every_claim_and_keeps_the_digest_it_was_given():
    referee = Task(1, role=Role.REFEREE, claims=[{}, {}], digest=DIGEST)
    checks = {"checks": [[[5, 0.5, 0.5]], [[6, 0.1, 0.0]]]}
    intake = take(referee, results=[{"task": 1, "output": checks}])
    assert intake.done == [{"id": 1, "version": 3, "digest": DIGEST, "output": checks}]


@pytest.mark.parametrize("body", [None, {}, {"results": []}, {"results": [{"task": "1"}]}, {"results": [1]},
                                  {"results": [{"task": i} for i in range(MAX_RESULTS + 1)]}])
def test_a_message_without_a_list_of_results_is_refused(body):
    with pytest.raises(BadRequest):
        parse_results(body)


@pytest.mark.parametrize("body", [None, {"partials": []}, {"partials": [{"task": 1, "token_ids": [], "text": ""}]},
                                  {"partials": [{"task": 1, "token_ids": [1] * 5, "text": "x"}]},
                                  {"partials": [{"task": 1, "token_ids": [-1], "text": "x"}]},
                                  {"partials": [{"task": "1", "token_ids": [1], "text": "x"}]},
                                  {"partials": [{"task": 1, "token_ids": [1], "text": None}]}])
def test_progress_that_is_not_a_list_of_answers_in_progress_is_refused(body):
    with pytest.raises(BadRequest):
        parse_progress(body, max_new_tokens=4)


def test_progress_is_a_list_of_answers_in_progress():
    partials = [{"task": 1, "token_ids": [1, 2], "text": "ab"}]
    assert parse_progress({"partials": partials}, max_new_tokens=4) == partials
