"""The expected gain of faking a shard instead of computing it, at the defaults of `tessera market init` and the
aggregator's price, across sampling rates (marketplace.economics): PoSP's condition p·(R + S) > C."""

from __future__ import annotations

from solders.pubkey import Pubkey

from client.market_admin import MarketSettings
from marketplace.aggregator.config import AggregatorConfig
from marketplace.economics import cheating_gain, deters, least_slash

RATES_BPS = (0, 1, 10, 100, 1_000, 3_000)


def markdown() -> str:
    market = MarketSettings(Pubkey.default(), Pubkey.default())  # the defaults of `tessera market init`
    price = AggregatorConfig.price_per_shard
    slash = least_slash(price, market.min_stake, market.slash_bps)
    lines = [
        "## What faking a shard is worth (PoSP: deterred when p·(R + S) > C)",
        "",
        f"`tessera market init` defaults (minimum stake {market.min_stake:,} lamports, slash {market.slash_bps / 100:g}%, "
        f"sampling {market.sampling_rate_bps / 100:g}%) and the aggregator's price R = {price:,} lamports per shard; the "
        f"least slash of a caught fake S = max(R, min stake × slash) = {slash:,}; the saving C taken at its worst, C = R.",
        "",
        "| sampling rate p | expected gain per faked shard (lamports) | deterred |",
        "|---:|---:|---|",
    ]
    for bps in RATES_BPS:
        lines.append(f"| {bps / 100:g}% | {cheating_gain(price, bps, market.min_stake, market.slash_bps):,.0f} | "
                     f"{'yes' if deters(price, bps, market.min_stake, market.slash_bps) else '**no**'} |")
    lines += ["", "The program does not yet refuse a market whose parameters fail this condition (issue #14).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
