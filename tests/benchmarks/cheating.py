"""The expected gain of faking a shard instead of computing it, at the defaults of `tessera market init` and the
aggregator's price, across sampling rates (marketplace.economics): PoSP's condition p·(R + S) > C."""

from __future__ import annotations

from solders.pubkey import Pubkey

from client.market_admin import MarketSettings
from marketplace.aggregator.config import AggregatorConfig
from marketplace.economics import cheating_gain, deters, least_slash

RATES_BPS = (0, 1, 10, 100, 1_000, 3_000)


def least_deterring_rate(price: int, min_stake: int, slash_bps: int) -> int:
    """The lowest sampling rate (bps) the program accepts for a market whose highest price is `price`."""
    return next(bps for bps in range(10_001) if deters(price, bps, min_stake, slash_bps))


def markdown() -> str:
    market = MarketSettings(Pubkey.default(), Pubkey.default())  # the defaults of `tessera market init`
    price, highest = AggregatorConfig.price_per_shard, market.max_price_per_shard
    slash = least_slash(price, market.min_stake, market.slash_bps)
    configured = market.sampling_rate_bps
    lines = [
        "## What faking a shard is worth (PoSP: deterred when p·(R + S) > C)",
        "",
        f"`tessera market init` defaults (minimum stake {market.min_stake:,} lamports, slash {market.slash_bps / 100:g}%, "
        f"sampling {configured / 100:g}%, highest price {highest:,} lamports per shard) and the aggregator's price "
        f"R = {price:,} lamports per shard; the least slash of a caught fake S = max(R, min stake × slash) = {slash:,} "
        "(stake stays slashable until withdrawn, so unstaking after a fake shrinks nothing); the saving C taken at its "
        "worst, C = R.",
        "",
        f"**At the configured p = {configured / 100:g}%**, faking one shard is expected to gain "
        f"{cheating_gain(price, configured, market.min_stake, market.slash_bps):,.0f} lamports at the aggregator's price "
        f"and {cheating_gain(highest, configured, market.min_stake, market.slash_bps):,.0f} at the market's highest "
        "price: a loss either way.",
        "",
        "| sampling rate p | expected gain per faked shard at R (lamports) | at the highest price | deterred at every allowed price |",
        "|---:|---:|---:|---|",
    ]
    for bps in RATES_BPS:
        lines.append(f"| {bps / 100:g}% | {cheating_gain(price, bps, market.min_stake, market.slash_bps):,.0f} | "
                     f"{cheating_gain(highest, bps, market.min_stake, market.slash_bps):,.0f} | "
                     f"{'yes' if deters(highest, bps, market.min_stake, market.slash_bps) else '**no**: the program refuses the market (CheatingPays)'} |")
    lowest = least_deterring_rate(highest, market.min_stake, market.slash_bps)
    lines += ["", f"`initialize_market` and `update_market` refuse a sampling rate below {lowest / 100:g}% with these "
                  "settings (the condition is checked at the highest price, where p·(R + S) / R is smallest), and "
                  "`create_job` refuses a price above the highest.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
