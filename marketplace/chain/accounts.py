"""The program's accounts as frozen dataclasses, decoded and encoded with anchorpy's coder."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

from construct import Container
from solders.pubkey import Pubkey

from marketplace.chain.errors import AccountDecodeError, InstructionArgumentError
from marketplace.chain.program import coder

ENDPOINT_BYTES = 128  # the endpoint field's size in Provider and its instructions


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


def status_variant(status: ProviderStatus) -> object:
    """anchorpy's value for a ProviderStatus variant, as its coder encodes enums."""
    return coder().types.decode("ProviderStatus", bytes([int(status)]))


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
    next_job_id: int
    total_stake: int
    provider_count: int
    fee_bps: int
    slash_bps: int
    sampling_rate_bps: int
    bump: int

    @classmethod
    def decode(cls, data: bytes) -> MarketAccount:
        raw = _decode(data, "Market")
        return cls(**{f.name: getattr(raw, f.name) for f in fields(cls)})

    def encode(self) -> bytes:
        return coder().accounts.build(Container(name="Market", data={**_shallow_dict(self), "padding": [0]}))


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
