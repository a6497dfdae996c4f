"""Answers still being generated: what primary providers report of their tasks as they go, kept in memory for the
streams that show them (verified after, like any output). Not persisted: after a restart, or for a stream held by
another aggregator process, the answer simply shows once it is verified."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from marketplace.aggregator.signals import Signal

MAX_JOBS = 2_000  # jobs with answers in progress kept at once; the least recently reported go first


@dataclass(frozen=True)
class Partial:
    task: int
    token_ids: tuple[int, ...]
    text: str


class Partials:
    def __init__(self, max_jobs: int = MAX_JOBS) -> None:
        self._jobs: OrderedDict[str, dict[int, Partial]] = OrderedDict()  # job -> shard -> its answer so far
        self._signals: OrderedDict[str, Signal] = OrderedDict()  # job -> fired when its answers grow: its streams wake
        self._max_jobs = max_jobs

    def signal(self, job: str) -> Signal:
        """The job's signal; kept for as many jobs as answers are (streams waiting on one dropped look again)."""
        signal = self._signals.get(job)
        if signal is None:
            signal = self._signals[job] = Signal()
            while len(self._signals) > self._max_jobs:
                self._signals.popitem(last=False)[1].fire()
        return signal

    def offer(self, job: str, shard: int, task: int, token_ids: list[int], text: str) -> bool:
        """Keeps a task's progress if it continues what is kept for its shard, or is another task's (the shard was
        handed on); whether it was kept."""
        shards = self._jobs.setdefault(job, {})
        kept = shards.get(shard)
        if kept is not None and kept.task == task and (
                len(token_ids) <= len(kept.token_ids) or tuple(token_ids[:len(kept.token_ids)]) != kept.token_ids):
            return False  # nothing new, or not a continuation: a replay, or a provider rewriting its own answer
        shards[shard] = Partial(task, tuple(token_ids), text)
        self._jobs.move_to_end(job)
        while len(self._jobs) > self._max_jobs:
            self._forget(next(iter(self._jobs)))
        self.signal(job).fire()
        return True

    def get(self, job: str, shard: int) -> Partial | None:
        return self._jobs.get(job, {}).get(shard)

    def drop(self, job: str, tasks: set[int]) -> None:
        """Forgets the progress of these tasks of `job`: their results are in."""
        shards = self._jobs.get(job)
        if shards is None:
            return
        for shard in [s for s, partial in shards.items() if partial.task in tasks]:
            del shards[shard]
        if not shards:
            self._forget(job)

    def _forget(self, job: str) -> None:
        self._jobs.pop(job, None)
        signal = self._signals.pop(job, None)
        if signal is not None:
            signal.fire()  # streams waiting on it look again (and find the answer decided, or wait anew)
