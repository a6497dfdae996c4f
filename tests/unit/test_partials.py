"""Answers in progress kept for streams (aggregator/partials.py)."""

from __future__ import annotations

from marketplace.aggregator.partials import Partials


def test_a_tasks_progress_only_grows_and_a_handed_on_shard_starts_over():
    partials = Partials()
    assert partials.offer("J", 0, task=1, token_ids=[5], text="a")
    assert partials.offer("J", 0, task=1, token_ids=[5, 6], text="ab")
    assert not partials.offer("J", 0, task=1, token_ids=[5], text="a")  # a replay of older progress
    assert not partials.offer("J", 0, task=1, token_ids=[9, 9, 9], text="zzz")  # not a continuation
    assert partials.get("J", 0).text == "ab"
    assert partials.offer("J", 0, task=2, token_ids=[7], text="x")  # the shard's new primary
    assert partials.get("J", 0).task == 2


def test_progress_is_forgotten_when_results_arrive_and_the_oldest_jobs_go_first():
    partials = Partials(max_jobs=2)
    partials.offer("A", 0, 1, [1], "a")
    partials.offer("A", 1, 2, [1], "a")
    partials.drop("A", {1})
    assert partials.get("A", 0) is None and partials.get("A", 1) is not None
    partials.offer("B", 0, 3, [1], "b")
    partials.offer("C", 0, 4, [1], "c")  # a third job: A, least recently reported, goes
    assert partials.get("A", 1) is None and partials.get("C", 0) is not None


def test_a_jobs_signal_fires_when_its_answer_grows_and_signals_stay_bounded():
    partials = Partials(max_jobs=2)
    mark = partials.signal("A").mark()
    other = partials.signal("B").mark()
    partials.offer("A", 0, 1, [1], "a")
    assert mark.is_set() and not other.is_set()  # only A's streams wake
    oldest = partials.signal("A").mark()
    partials.signal("C")  # a third job's signal: A's, the oldest, goes, and its waiters look again
    assert oldest.is_set()
