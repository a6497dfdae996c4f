"""The node's journal: states a result goes through, and what a restart finds."""

from __future__ import annotations

from provider.journal import Journal, Result


def result(task, job="J1", shard=0, role="primary", digest="ab" * 32, error=None):
    return Result(task, job, shard, role, None if error else digest, None if error else {"token_ids": [1]}, error)


def test_results_flow_from_ran_to_committed_and_survive_a_restart(tmp_path):
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    batch = [result(1, shard=0), result(2, shard=1), result(3, role="referee"),
             result(4, job="J2", error={"code": "input_too_large", "message": "too long"})]
    journal.record(batch)
    assert journal.known([1, 2, 99]) == {1, 2}
    assert {job: [r.task for r in rs] for job, rs in journal.unposted().items()} == {"J1": [1, 2, 3], "J2": [4]}
    assert journal.unposted()["J2"][0].payload() == {"task": 4, "error": {"code": "input_too_large", "message": "too long"}}

    journal.mark_posted(batch)
    assert journal.unposted() == {}
    # Only shard runs are committed on chain; a referee check and a hand-back are done once posted.
    rows = journal.to_commit()["J1"]
    assert [r.task for r in rows] == [1, 2] and journal.counts() == {"posted": 2, "done": 2}
    journal.mark_committing(rows, "cd" * 32)
    journal.close()

    reopened = Journal(path)  # a restart finds the submission in flight
    in_flight = reopened.to_commit()["J1"]
    assert {r.state for r in in_flight} == {"committing"} and in_flight[0].root == "cd" * 32
    reopened.mark_committed(in_flight, "sig")
    assert reopened.to_commit() == {} and reopened.counts() == {"committed": 2, "done": 2}


def test_work_handed_again_is_sent_again_unless_already_on_chain(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record([result(1), result(2, shard=1), result(3, role="referee")])
    journal.mark_posted([result(1), result(2, shard=1), result(3, role="referee")])
    journal.mark_committing([r for r in journal.to_commit()["J1"] if r.task == 2], "ef" * 32)
    journal.post_again([1, 2, 3])
    assert sorted(r.task for r in journal.unposted()["J1"]) == [1, 3]  # task 2's round is already on its way
