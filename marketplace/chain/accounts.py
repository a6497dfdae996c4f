"""The program's accounts as frozen dataclasses, decoded and encoded with anchorpy's coder."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, fields

from construct import Container
from solders.pubkey import Pubkey

from marketplace.chain.errors import AccountDecodeError, InstructionArgumentError
from marketplace.chain.program import coder

ENDPOINT_BYTES = 128  # the endpoint field's size in Provider and its instructions
MAX_SHARDS = 1024  # shards one job holds: its bitmaps are 128 bytes


class ProviderStatus(enum.IntEnum):
    ACTIVE = 0  # takes new work
    PAUSED = 1  # set by its owner: finishes open work, takes none


def encode_endpoint(endpoint: str) -> list[int]:
    """An endpoint URL as the program stores it: printable ASCII, zero-padded."""
    raw = endpoint.encode("ascii", errors="strict") if endpoint.isascii() else None
    if not raw or len(raw) > ENDPOINT_BYTES or any(b <= 0x20 or b >= 0x7F for b in raw):
        raise InstructionArgumentError(
            f"endpoint must be 1 to {ENDPOINT_BYTES} printable ASCII characters without spaces: {endpoint!r}"
        )
    return list(raw.ljust(ENDPOINT_BYTES, b"\0"))


class AssignmentStatus(enum.IntEnum):
    PENDING = 0  # a submission awaits settlement
    SETTLED = 1


class Verdict(enum.IntEnum):
    NONE = 0  # never settled
    PAY = 1  # accepted shards are paid
    REJECT = 2  # nothing paid, collateral released
    SLASH = 3  # stake slashed; accepted shards (if any) still paid


def enum_variant(type_name: str, value: int) -> object:
    """anchorpy's value for a variant of an IDL enum, as its coder encodes enums."""
    return coder().types.decode(type_name, bytes([int(value)]))


def status_variant(status: ProviderStatus) -> object:
    return enum_variant("ProviderStatus", status)


def shards_to_bitmap(shards: Iterable[int]) -> list[int]:
    """Shard indexes as the program's 128-byte bitmap: bit i of byte i/8."""
    bitmap = bytearray(MAX_SHARDS // 8)
    for shard in shards:
        if not isinstance(shard, int) or not 0 <= shard < MAX_SHARDS:
            raise InstructionArgumentError(f"shard index must be 0 to {MAX_SHARDS - 1}: {shard!r}")
        bitmap[shard // 8] |= 1 << (shard % 8)
    return list(bitmap)


def bitmap_to_shards(bitmap: bytes | list[int]) -> frozenset[int]:
    raw = bytes(bitmap)
    return frozenset(i for i in range(len(raw) * 8) if raw[i // 8] >> (i % 8) & 1)


def decode_endpoint(raw: bytes | list[int]) -> str:
    return bytes(raw).rstrip(b"\0").decode("ascii", errors="replace")


def _shallow_dict(obj) -> dict:
    """A dataclass as a dict for anchorpy. Not `asdict`: it deep-copies, and
    solders keys cannot be deep-copied."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class MarketConfig:
    """What a market's authority sets; the program checks every field."""

    verifier: Pubkey  # the aggregator's key: the only signer of settle
    treasury: Pubkey  # receives fees and a share of slashes
    min_stake: int  # lamports a provider must stake to register
    unbonding_period: int  # seconds between request_unstake and withdraw_stake
    claim_timeout: int  # seconds a provider has to return a claimed shard
    fee_bps: int  # market fee, basis points of the job price
    slash_bps: int  # share of a faulty provider's stake slashed, basis points
    sampling_rate_bps: int  # probability a shard is replicated for checking, basis points
    cache_fee_bps: int = 0  # what a shard served from cache costs, basis points of the job's price
    grace_period: int = 3_600  # seconds after a job's deadline when anyone may unwind what is unsettled
    max_price_per_shard: int = 100_000  # lamports: jobs may not pay more; sampling must deter faking at this price

    def to_idl(self) -> dict:
        return _shallow_dict(self)


def _decode(data: bytes, name: str) -> Container:
    try:
        decoded = coder().accounts.decode(bytes(data))
    except Exception as exc:  # construct raises several unrelated types
        raise AccountDecodeError(f"not a {name} account ({len(data)} bytes): {exc}") from exc
    if type(decoded).__name__ != name:
        raise AccountDecodeError(f"expected a {name} account, found {type(decoded).__name__}")
    return decoded


@dataclass(frozen=True)
class MarketAccount:
    authority: Pubkey
    verifier: Pubkey
    treasury: Pubkey
    min_stake: int
    unbonding_period: int
    claim_timeout: int
    jobs_created: int
    total_stake: int
    provider_count: int
    fee_bps: int
    slash_bps: int
    sampling_rate_bps: int
    bump: int
    cache_fee_bps: int = 0
    grace_period: int = 0
    max_price_per_shard: int = 0

    @classmethod
    def decode(cls, data: bytes) -> MarketAccount:
        raw = _decode(data, "Market")
        return cls(**{f.name: getattr(raw, f.name) for f in fields(cls)})

    def encode(self) -> bytes:
        return coder().accounts.build(Container(name="Market", data={**_shallow_dict(self), "padding": [0] * 7}))


@dataclass(frozen=True)
class ProviderAccount:
    market: Pubkey
    owner: Pubkey
    stake: int  # lamports at stake, locked included
    locked_stake: int  # held as collateral by open work
    unbonding_stake: int  # leaving; withdrawable from unbond_at
    unbond_at: int
    registered_at: int
    shards_served: int
    shards_slashed: int
    capacity: int
    status: ProviderStatus
    bump: int
    endpoint: str

    @property
    def free_stake(self) -> int:
        return self.stake - self.locked_stake

    @classmethod
    def decode(cls, data: bytes) -> ProviderAccount:
        raw = _decode(data, "Provider")
        values = {f.name: getattr(raw, f.name) for f in fields(cls)}
        values["status"] = ProviderStatus(raw.status.index)
        values["endpoint"] = decode_endpoint(raw.endpoint)
        return cls(**values)

    def encode(self) -> bytes:
        data = {**_shallow_dict(self), "padding": [0, 0], "endpoint": encode_endpoint(self.endpoint)}
        data["status"] = status_variant(self.status)
        return coder().accounts.build(Container(name="Provider", data=data))


@dataclass(frozen=True)
class JobAccount:
    market: Pubkey
    client: Pubkey
    model_digest: bytes
    input_root: bytes
    seed_commitment: bytes
    revealed_seed: bytes | None  # None until settle reveals it
    served_shards: frozenset[int]
    paid_shards: frozenset[int]
    job_id: int
    price_per_shard: int
    escrow: int  # lamports above rent still held
    deadline: int
    created_at: int
    shard_count: int
    execution_budget: int
    executions_paid: int
    pending_shards: int
    assignment_count: int
    pending_assignments: int
    unfunded_shards: int  # an epoch job's shards no channel has paid for yet
    fee_bps: int
    sampling_rate_bps: int
    bump: int
    is_epoch: bool  # opened by open_epoch: its client is its Epoch account

    @classmethod
    def decode(cls, data: bytes) -> JobAccount:
        raw = _decode(data, "Job")
        values = {f.name: getattr(raw, f.name, None) for f in fields(cls)}
        for name in ("model_digest", "input_root", "seed_commitment"):
            values[name] = bytes(values[name])
        values["revealed_seed"] = bytes(raw.revealed_seed) if raw.seed_revealed else None
        values["served_shards"] = bitmap_to_shards(raw.served_shards)
        values["paid_shards"] = bitmap_to_shards(raw.paid_shards)
        return cls(**values)

    def encode(self) -> bytes:
        data = _shallow_dict(self)
        for name in ("model_digest", "input_root", "seed_commitment"):
            data[name] = list(data[name])
        data["revealed_seed"] = list(self.revealed_seed or bytes(32))
        data["seed_revealed"] = self.revealed_seed is not None
        data["served_shards"] = shards_to_bitmap(self.served_shards)
        data["paid_shards"] = shards_to_bitmap(self.paid_shards)
        data["padding"] = [0] * 5
        return coder().accounts.build(Container(name="Job", data=data))


@dataclass(frozen=True)
class AssignmentAccount:
    job: Pubkey
    provider: Pubkey
    results_root: bytes
    submitted_shards: frozenset[int]
    pending_shards: frozenset[int]
    paid_shards: frozenset[int]
    collateral: int
    submitted_at: int
    status: AssignmentStatus
    last_verdict: Verdict
    bump: int

    @classmethod
    def decode(cls, data: bytes) -> AssignmentAccount:
        raw = _decode(data, "Assignment")
        return cls(
            job=raw.job, provider=raw.provider, results_root=bytes(raw.results_root),
            submitted_shards=bitmap_to_shards(raw.submitted_shards), pending_shards=bitmap_to_shards(raw.pending_shards),
            paid_shards=bitmap_to_shards(raw.paid_shards), collateral=raw.collateral, submitted_at=raw.submitted_at,
            status=AssignmentStatus(raw.status.index), last_verdict=Verdict(raw.last_verdict.index), bump=raw.bump,
        )

    def encode(self) -> bytes:
        data = _shallow_dict(self)
        data["results_root"] = list(self.results_root)
        for name in ("submitted_shards", "pending_shards", "paid_shards"):
            data[name] = shards_to_bitmap(data[name])
        data["status"] = enum_variant("AssignmentStatus", self.status)
        data["last_verdict"] = enum_variant("Verdict", self.last_verdict)
        data["padding"] = [0] * 5
        return coder().accounts.build(Container(name="Assignment", data=data))


@dataclass(frozen=True)
class ChannelAccount:
    market: Pubkey
    owner: Pubkey
    authorizer: Pubkey  # signs vouchers
    claimed: int  # lamports moved into job escrow so far
    generation: int  # the slot it was opened in; vouchers name it
    withdraw_delay: int  # seconds between request_withdraw and withdraw
    withdrawable_at: int  # unix time the owner may withdraw from; 0 until requested
    open_jobs: int  # jobs it funded that are not closed yet
    bump: int

    @classmethod
    def decode(cls, data: bytes) -> ChannelAccount:
        raw = _decode(data, "Channel")
        return cls(**{f.name: getattr(raw, f.name) for f in fields(cls)})

    def encode(self) -> bytes:
        return coder().accounts.build(Container(name="Channel", data={**_shallow_dict(self), "padding": [0] * 3}))


@dataclass(frozen=True)
class EpochEntry:
    """One channel's part of an epoch job: its shards, what it paid in, what verdicts spent of it, its slash credit."""

    channel: Pubkey
    escrow: int
    spent: int
    credit: int
    first_shard: int
    shard_count: int
    execution_budget: int
    executions_paid: int

    @property
    def refund(self) -> int:
        """What the channel gets back when the job closes."""
        return self.escrow - self.spent + self.credit


@dataclass(frozen=True)
class EpochAccount:
    """An epoch job's payers: PDA ["epoch", job]."""

    market: Pubkey
    job: Pubkey
    payer: Pubkey  # fronted the rent of the job and the epoch; gets it back at close
    funded_shards: int
    entries: tuple[EpochEntry, ...]
    bump: int

    @classmethod
    def decode(cls, data: bytes) -> EpochAccount:
        raw = _decode(data, "Epoch")
        entries = tuple(EpochEntry(**{f.name: getattr(entry, f.name) for f in fields(EpochEntry)})
                        for entry in raw.entries[:raw.entry_count])
        return cls(raw.market, raw.job, raw.payer, raw.funded_shards, entries, raw.bump)
