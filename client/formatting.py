"""Renders chain state for people: rich tables built from typed accounts, printed elsewhere."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.table import Table
from solana.constants import LAMPORTS_PER_SOL
from solders.pubkey import Pubkey

from marketplace.chain import MarketAccount
from marketplace.economics import cheating_gain


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
        ("maximum price", f"{market.max_price_per_shard:,} lamports per shard"),
        ("gain from faking a shard", f"{cheating_gain(market.max_price_per_shard, market.sampling_rate_bps, market.min_stake, market.slash_bps):,.0f} lamports (expected, at the maximum price)"),
        ("cache fee", f"{bps(market.cache_fee_bps)} of the price"),
        ("unbonding period", f"{market.unbonding_period:,} s"),
        ("claim timeout", f"{market.claim_timeout:,} s"),
        ("providers", str(market.provider_count)),
        ("total stake", sol(market.total_stake)),
        ("jobs created", str(market.jobs_created)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


