"""The node's journal: every result is a row before it leaves the machine.

A crash between running a task, posting it and committing its digest on
chain loses nothing and repeats nothing: on restart the node posts what was
not acknowledged and commits what was not confirmed (after asking the chain
whether an earlier attempt landed). SQLite through SQLAlchemy.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    String,
    create_engine,
    func,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from marketplace.vocabulary import Role


class ResultState(StrEnum):
    """Where a result is on its way out (stored values)."""

    RAN = "ran"  # in the journal only
    POSTED = "posted"  # the aggregator took it; a shard run still awaits its on-chain commitment
    DONE = "done"  # taken, and nothing to commit (a referee's check, a hand-back)
    COMMITTING = "committing"  # submit_results sent, not yet confirmed
    COMMITTED = "committed"
    DROPPED = "dropped"  # nobody will take it (the job moved on)


class Base(DeclarativeBase):
    pass


class ResultRow(Base):
    __tablename__ = "results"
    task: Mapped[int] = mapped_column(Integer, primary_key=True)  # the aggregator's task id
    job: Mapped[str] = mapped_column(String(44), index=True)
    shard: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str | None] = mapped_column(String(64))
    output: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[Any | None] = mapped_column(JSON)  # {code, message} when the node hands the task back
    state: Mapped[str] = mapped_column(String(16), index=True)  # ResultState
    root: Mapped[str | None] = mapped_column(String(64))  # of the submission this row went into
    signature: Mapped[str | None] = mapped_column(String(88))
    created_at: Mapped[int] = mapped_column(BigInteger)


class EpochPlaceRow(Base):
    """Where a task's shard stands in an epoch job: its channel and its place among that channel's shards. Its index
    on chain is known once the epoch is open (the channel's first shard there + place); until then it has none."""

    __tablename__ = "epoch_places"
    task: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(44))
    seq: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Result:
    task: int
    job: str
    shard: int
    role: str
    digest: str | None
    output: Any | None
    error: dict | None = None

    @property
    def committed_on_chain(self) -> bool:
        """Runs of a shard go into the provider's on-chain root; referee checks and hand-backs do not."""
        return self.role != Role.REFEREE and self.error is None

    def payload(self) -> dict:
        if self.error is not None:
            return {"task": self.task, "error": self.error}
        return {"task": self.task, "digest": self.digest, "output": self.output}


class Journal:
    def __init__(self, path: Path | str) -> None:
        self.engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def known(self, tasks: list[int]) -> set[int]:
        """Task ids already run here: a claim handed again is not run twice."""
        with Session(self.engine) as session:
            return set(session.scalars(select(ResultRow.task).where(ResultRow.task.in_(tasks))))

    def record(self, results: list[Result]) -> None:
        now = int(time.time())
        with Session(self.engine) as session, session.begin():
            for r in results:
                session.merge(ResultRow(task=r.task, job=r.job, shard=r.shard, role=r.role, digest=r.digest,
                                        output=r.output, error=r.error, state=ResultState.RAN, created_at=now))

    def _rows(self, *conditions) -> list[ResultRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(ResultRow).where(*conditions).order_by(ResultRow.task)))

    def unposted(self) -> dict[str, list[Result]]:
        by_job: dict[str, list[Result]] = defaultdict(list)
        for row in self._rows(ResultRow.state == ResultState.RAN):
            by_job[row.job].append(Result(row.task, row.job, row.shard, row.role, row.digest, row.output, row.error))
        return dict(by_job)

    def _set(self, tasks: list[int], **values) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(ResultRow).where(ResultRow.task.in_(tasks)).values(**values))

    def mark_posted(self, results: list[Result]) -> None:
        """Taken by the aggregator; shard runs wait for their on-chain commitment, the rest is done."""
        committed = [r.task for r in results if r.committed_on_chain]
        self._set(committed, state=ResultState.POSTED)
        self._set([r.task for r in results if not r.committed_on_chain], state=ResultState.DONE)

    def mark_dropped(self, results: list[Result]) -> None:
        self._set([r.task for r in results], state=ResultState.DROPPED)

    def to_commit(self) -> dict[str, list[ResultRow]]:
        """Per job, the shard runs posted but not yet committed, and any submission in flight."""
        by_job: dict[str, list[ResultRow]] = defaultdict(list)
        for row in self._rows(ResultRow.state.in_((ResultState.POSTED, ResultState.COMMITTING))):
            by_job[row.job].append(row)
        return dict(by_job)

    def post_again(self, tasks: list[int]) -> None:
        """The aggregator handed these again, so it never got their results: send them once more
        (a round already on its way on chain keeps its state; its results were taken before)."""
        with Session(self.engine) as session, session.begin():
            session.execute(update(ResultRow).where(ResultRow.task.in_(tasks), ResultRow.state.in_((ResultState.POSTED, ResultState.DONE)))
                            .values(state=ResultState.RAN))

    def mark_posted_again(self, rows: list[ResultRow]) -> None:
        """A submission the chain refused for now (the previous round awaits settlement)."""
        self._set([r.task for r in rows], state=ResultState.POSTED, root=None)

    def mark_dropped_rows(self, rows: list[ResultRow]) -> None:
        self._set([r.task for r in rows], state=ResultState.DROPPED)

    def mark_committing(self, rows: list[ResultRow], root: str) -> None:
        self._set([r.task for r in rows], state=ResultState.COMMITTING, root=root)

    def mark_committed(self, rows: list[ResultRow], signature: str | None) -> None:
        self._set([r.task for r in rows], state=ResultState.COMMITTED, signature=signature)

    def note_places(self, places: dict[int, tuple[str, int]]) -> None:
        """Tasks of epoch jobs as they were handed out: task -> (channel, place)."""
        with Session(self.engine) as session, session.begin():
            for task, (channel, seq) in places.items():
                session.merge(EpochPlaceRow(task=task, channel=channel, seq=seq))

    def places(self, tasks: list[int]) -> dict[int, tuple[str, int]]:
        with Session(self.engine) as session:
            return {row.task: (row.channel, row.seq) for row in session.scalars(
                select(EpochPlaceRow).where(EpochPlaceRow.task.in_(tasks)))}

    def renumber(self, shards: dict[int, int]) -> None:
        """Gives tasks of an epoch job their shards' indices on chain: task -> index."""
        with Session(self.engine) as session, session.begin():
            for task, shard in shards.items():
                session.execute(update(ResultRow).where(ResultRow.task == task).values(shard=shard))

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return dict(session.execute(select(ResultRow.state, func.count()).group_by(ResultRow.state)).all())
