"""The aggregator's configuration: one dataclass, units in the comments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marketplace.chain.accounts import MAX_SHARDS


@dataclass(frozen=True)
class AggregatorConfig:
    rpc_url: str  # Solana JSON-RPC (localnet, a test validator, devnet)
    keypair: Path  # the market's verifier key (Solana CLI JSON)
    market: str  # the Market account's address
    db_url: str = "sqlite+aiosqlite:///tessera-aggregator.sqlite3"
    db_schema: str | None = None  # PostgreSQL schema to confine the tables to
    host: str = "127.0.0.1"
    port: int = 8080
    price_per_shard: int = 100_000  # lamports quoted per shard execution
    quote_ttl: int = 300  # seconds a quote stays valid
    quote_rate: float = 20.0  # quotes per second one caller (address) may ask for, sustained
    quote_burst: int = 200  # quotes one caller may ask for at once
    job_lifetime: int = 600  # seconds from quote to the job's deadline
    # Seconds an epoch takes requests paid by voucher before it is paid for on chain, in one job for all of them
    # (epochs.py); 0: each such request is a job of its own, claimed before it is served (a transaction or more each).
    epoch_seconds: float = 30.0
    epoch_shards: int = MAX_SHARDS  # an epoch holding this many shards ends before its time
    claim_timeout: int = 60  # seconds a provider has to return claimed work
    provider_timeout: int = 15  # seconds without a heartbeat or claim after which a provider's work moves on
    long_poll: float = 20.0  # seconds a work request waits for work
    tick: float = 1.0  # seconds between conductor passes when no activity starts one sooner; its sweeps' period
    tie_tolerance: float = 1e-3  # logits: a top-2 gap below this is a tie
    max_body: int = 4 * 1024 * 1024  # bytes of one HTTP body
    max_shards: int = MAX_SHARDS  # what one Job account holds
    fragment_store: Path = Path("tessera-fragments")  # pipelined models' heads, and the activations of their jobs
    # Solana PubSub (WebSocket) for subscriptions to payment channels; None: the RPC URL's, at its port + 1 (as the
    # Solana CLI derives it).
    pubsub_url: str | None = None
