"""The expected gain of faking a shard, by the market's parameters."""

from __future__ import annotations

from marketplace.economics import cheating_gain, deters, least_slash

SOL = 10**9


def test_a_market_that_samples_nothing_pays_cheaters_the_whole_price():
    assert cheating_gain(100_000, 0, SOL, 5_000) == 100_000 and not deters(100_000, 0, SOL, 5_000)


def test_the_slash_of_the_minimum_stake_makes_even_light_sampling_deter():
    # 1% sampling, a 0.5 SOL least slash: a fake expects to lose ~5 million lamports per shard of 100,000.
    assert least_slash(100_000, SOL, 5_000) == SOL // 2
    assert cheating_gain(100_000, 100, SOL, 5_000) == 100_000 - 0.01 * (100_000 + SOL // 2)
    assert deters(100_000, 100, SOL, 5_000)


def test_the_boundary_is_strict():
    # p·(R + S) = R exactly: indifferent, which does not deter.
    assert not deters(price=1_000, sampling_bps=5_000, min_stake=0, slash_bps=0)
    assert deters(price=1_000, sampling_bps=5_001, min_stake=0, slash_bps=0)
