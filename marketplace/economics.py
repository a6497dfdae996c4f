"""What a job costs and what cheating is worth, by the market's parameters: the program's arithmetic, once.

Pricing: create_job escrows every shard once plus the replicas sampling may add (rounded up), and the market fee on
all of it (rounded up); what is not spent goes back to the client.

Cheating (PoSP's condition p·(R + S) > C):

A provider that fakes a shard instead of computing it saves at most C ≤ R (an honest run cannot cost more than it
pays, or nobody would serve the market). With probability p (the sampling rate) the shard is checked: the fake is
then not paid (−R) and slashed S, at least max(the collateral R, min_stake × slash_bps) since stake stays slashable
until withdrawn. Its expected gain over honest work is C − p·(R + S); faking is deterred when that is negative.
"""

from __future__ import annotations

BPS = 10_000  # basis points in a whole


def bps_ceil(amount: int, bps: int) -> int:
    return -(-amount * bps // BPS)


def execution_budget(shard_count: int, sampling_bps: int) -> int:
    """Executions a job pays for: every shard once plus the replicas sampling may add, rounded up."""
    return shard_count + bps_ceil(shard_count, sampling_bps)


def job_escrow(price: int, shard_count: int, sampling_bps: int, fee_bps: int) -> int:
    """Lamports create_job takes into escrow (besides the account's rent): the budget's work and the fee on it."""
    work = price * execution_budget(shard_count, sampling_bps)
    return work + bps_ceil(work, fee_bps)


def least_slash(price: int, min_stake: int, slash_bps: int) -> int:
    """The least a caught fake of one shard at `price` loses to the slash."""
    return max(price, min_stake * slash_bps // BPS)


def cheating_gain(price: int, sampling_bps: int, min_stake: int, slash_bps: int) -> float:
    """Expected lamports a provider gains per shard it fakes rather than computes, at worst (C = R); < 0 deters."""
    return price - sampling_bps / BPS * (price + least_slash(price, min_stake, slash_bps))


def deters(price: int, sampling_bps: int, min_stake: int, slash_bps: int) -> bool:
    """p·(R + S) > R, in integers."""
    return sampling_bps * (price + least_slash(price, min_stake, slash_bps)) > price * BPS
