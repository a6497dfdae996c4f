"""What a paid request returns: outputs per shard and a receipt of what moved on chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from marketplace.vocabulary import Verification


@dataclass(frozen=True)
class ShardResult:
    index: int
    output: Any  # {"token_ids", "text", "top2_gaps"} for generation, {"vector"} for embeddings
    verification: str  # checked | replica_agreed | referee | unsampled | unchecked | cache
    digest: str | None
    providers: list[str] = field(default_factory=list)

    @property
    def cached(self) -> bool:
        return self.verification == Verification.CACHE

    @property
    def text(self) -> str | None:
        return self.output.get("text") if isinstance(self.output, dict) else None

    @property
    def vector(self) -> list[float] | None:
        return self.output.get("vector") if isinstance(self.output, dict) else None


@dataclass(frozen=True)
class Receipt:
    job: str
    status: str  # closed | cancelled | refunded | ...
    signatures: dict[str, str]  # what -> transaction signature: create_job or claim_channel, close_job, cancel_job, refund
    escrowed: int  # lamports the client (or its channel) put in escrow
    job_rent: int  # lamports of rent the job account held (returned at close)
    refunded: int  # lamports that came back to the client, or its channel (unspent escrow + rent)
    fees: int  # transaction fees the client paid (none when a channel pays: the aggregator sends the claim)
    verification: dict[str, int]  # how many shards were verified each way
    cache_hits: int
    seed: str | None  # the revealed sampling seed: anyone can audit which shards were checked
    settlements: list[dict] = field(default_factory=list)
    channel: str | None = None  # the payment channel that paid, if one did
    voucher: int | None = None  # the channel's voucher total once this request was paid: all it has authorized

    @property
    def paid(self) -> int:
        """Lamports this request cost the client in all: escrow kept, plus fees."""
        return self.escrowed + self.job_rent - self.refunded + self.fees


@dataclass(frozen=True)
class JobResult:
    job: str
    shards: list[ShardResult]
    receipt: Receipt

    @property
    def outputs(self) -> list[Any]:
        return [s.output for s in self.shards]

    @property
    def texts(self) -> list[str | None]:
        return [s.text for s in self.shards]

    @property
    def vectors(self) -> list[list[float] | None]:
        return [s.vector for s in self.shards]


@dataclass(frozen=True)
class ChatResult:
    """One assistant turn: the message, token usage, and how it was paid for and verified."""

    message: dict  # {"role": "assistant", "content": ...}
    usage: dict  # prompt_tokens, completion_tokens, total_tokens
    verification: str
    receipt: Receipt
    job: str

    @classmethod
    def of(cls, result: JobResult) -> ChatResult:
        [shard] = result.shards
        output = shard.output or {}
        prompt, completion = output.get("prompt_tokens", 0), len(output.get("token_ids", []))
        return cls({"role": "assistant", "content": output.get("text", "")},
                   {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
                   shard.verification, result.receipt, result.job)
