"""The market's vocabulary: every kind, role and status, as the database, the HTTP API and the SDK store them.

StrEnums: each member is its stored string, so rows, JSON and comparisons with plain strings are unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a job asks for."""

    GENERATE = "generate"  # text from a prompt
    CHAT = "chat"  # one assistant turn, rendered by the model's chat template
    EMBED = "embed"  # a vector per text


KINDS = tuple(kind.value for kind in Kind)
GENERATIVE = frozenset({Kind.GENERATE, Kind.CHAT})  # token outputs, checked by teacher forcing


class JobStatus(StrEnum):
    OPEN = "open"  # shards running or being verified
    SETTLING = "settling"  # something was settled on chain; more may follow
    FAILED = "failed"  # a shard no provider can run: its client may close it at once
    CLOSED = "closed"  # its account is closed: everyone paid, the rest refunded
    CANCELLED = "cancelled"  # its client cancelled or closed it before every shard was decided


class ShardStatus(StrEnum):
    RUNNING = "running"
    DISPUTED = "disputed"  # a referee was asked
    VERIFIED = "verified"
    CACHED = "cached"  # served from the cache: nothing ran
    FAILED = "failed"  # no provider can run it
    REFUNDED = "refunded"  # its answer was shown as it was generated, then found wrong: not run again, not charged


DECIDED = frozenset({ShardStatus.VERIFIED, ShardStatus.CACHED})
FINAL = DECIDED | {ShardStatus.FAILED, ShardStatus.REFUNDED}  # nothing more is run for it


class TaskStatus(StrEnum):
    WAITING = "waiting"  # a replica waiting for its primary's claim
    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    EXPIRED = "expired"  # claimed and not answered in time
    DECLINED = "declined"  # its provider cannot run it
    CANCELLED = "cancelled"


OPEN_TASK = frozenset({TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.CLAIMED})


class Role(StrEnum):
    PRIMARY = "primary"  # computes the shard
    REPLICA = "replica"  # checks the primary (sampled shards)
    REFEREE = "referee"  # judges a disagreement


class Verification(StrEnum):
    """How a shard's result was verified."""

    UNSAMPLED = "unsampled"  # not drawn for a check
    CHECKED = "checked"  # a replica's teacher-forced check agreed
    REPLICA_AGREED = "replica_agreed"  # a recomputed embedding agreed
    REFEREE = "referee"  # a referee decided a disagreement
    UNCHECKED = "unchecked"  # drawn, but its check was unusable
    CACHE = "cache"  # served from the cache


class SettlementStatus(StrEnum):
    CONFIRMED = "confirmed"  # settled on chain (rows are written after the transaction confirms)


class VoucherStatus(StrEnum):
    PENDING = "pending"  # kept with its request; not yet claimed and taken in (a restart finishes either way)
    IN_EPOCH = "in_epoch"  # taken into an epoch and served; claimed with the others when the epoch opens on chain
    CLAIMED = "claimed"  # its claim opened the job on chain and the request was taken in
    UNSERVED = "unserved"  # never served: the claim was refused or never landed, or its job closed unserved


class EpochState(StrEnum):
    """An epoch job's way to the chain (jobs.epoch_state): requests are served first, paid together after."""

    FILLING = "filling"  # takes requests
    SEALED = "sealed"  # takes no more; its shards are being decided
    LAID_OUT = "laid_out"  # shards renumbered channel by channel, as the chain will fund them
    OPEN = "open"  # open on chain and funded by every channel: providers commit, the conductor settles
