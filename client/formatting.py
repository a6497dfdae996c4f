"""Renders chain state for people: rich tables built from typed accounts, printed elsewhere."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.table import Table
from solders.pubkey import Pubkey

from marketplace.chain import MarketAccount, ProviderAccount

LAMPORTS_PER_SOL = 1_000_000_000


def sol(lamports: int) -> str:
    return f"{lamports / LAMPORTS_PER_SOL:,.4f} SOL"


def short(key: Pubkey | str) -> str:
    text = str(key)
    return f"{text[:4]}…{text[-3:]}"


def timestamp(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if unix else "—"


def bps(value: int) -> str:
    return f"{value / 100:g}%"


def _key_value_table(title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    return table


def market_table(address: Pubkey, market: MarketAccount) -> Table:
    table = _key_value_table(f"Market {address}")
    rows = [
        ("authority", str(market.authority)),
        ("verifier (aggregator)", str(market.verifier)),
        ("treasury", str(market.treasury)),
        ("minimum stake", sol(market.min_stake)),
        ("market fee", bps(market.fee_bps)),
        ("slash", bps(market.slash_bps)),
        ("sampling rate", bps(market.sampling_rate_bps)),
        ("cache fee", f"{bps(market.cache_fee_bps)} of the price"),
        ("unbonding period", f"{market.unbonding_period:,} s"),
        ("claim timeout", f"{market.claim_timeout:,} s"),
        ("providers", str(market.provider_count)),
        ("total stake", sol(market.total_stake)),
        ("jobs created", str(market.next_job_id)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def provider_table(address: Pubkey, provider: ProviderAccount) -> Table:
    table = _key_value_table(f"Provider {address}")
    rows = [
        ("owner", str(provider.owner)),
        ("endpoint", provider.endpoint),
        ("status", provider.status.name.lower()),
        ("capacity", f"{provider.capacity} shards at once"),
        ("stake", sol(provider.stake)),
        ("locked by open work", sol(provider.locked_stake)),
        ("unbonding", sol(provider.unbonding_stake)),
        ("withdrawable from", timestamp(provider.unbond_at) if provider.unbonding_stake else "—"),
        ("registered", timestamp(provider.registered_at)),
        ("shards served / slashed", f"{provider.shards_served} / {provider.shards_slashed}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
