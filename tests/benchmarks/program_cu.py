"""Compute units of every program instruction, measured in LiteSVM.

Account creation derives the canonical PDA bump, which costs ~1,500 CU per
bump tried; the bump depends on the keys, so those instructions are measured
over many random keys and reported as a distribution.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from solders.keypair import Keypair

from localnet import LocalRuntime
from marketplace.chain import MarketConfig, market_address, provider_address
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import ProviderStatus
from marketplace.chain.program import idl_json

SOL = 1_000_000_000
CREATION_GOAL, OTHER_GOAL = 6_000, 2_500
CREATIONS = {"initialize_market", "register_provider"}


@dataclass(frozen=True)
class CuRow:
    instruction: str
    median: int
    low: int
    high: int
    samples: int
    goal: int
    within_goal: float  # share of samples at or under the goal

    @property
    def meets_goal(self) -> bool:
        return self.median <= self.goal


def _config(authority) -> MarketConfig:
    return MarketConfig(authority, Keypair().pubkey(), SOL, 3600, 60, 200, 5_000, 1_000)


def _send(runtime: LocalRuntime, instruction, signer) -> int:
    outcome = runtime.send([instruction], [signer])
    if not outcome.ok:
        raise RuntimeError(f"benchmark transaction failed: {outcome.error}\n" + "\n".join(outcome.logs))
    return outcome.compute_units


def measure(samples: int = 64) -> list[CuRow]:
    runtime = LocalRuntime(unix_time=1_750_000_000)
    units: dict[str, list[int]] = {}
    bumps: list[int] = []

    def record(name: str, instruction, signer) -> None:
        units.setdefault(name, []).append(_send(runtime, instruction, signer))

    for _ in range(samples):
        authority, owner = Keypair(), Keypair()
        for key in (authority, owner):
            runtime.airdrop(key.pubkey(), 100 * SOL)
        market, market_bump = market_address(authority.pubkey())
        _, provider_bump = provider_address(market, owner.pubkey())
        bumps += [market_bump, provider_bump]
        cfg = _config(authority.pubkey())
        record("initialize_market", ix.initialize_market(authority.pubkey(), cfg), authority)
        record("update_market", ix.update_market(authority.pubkey(), cfg), authority)
        record("register_provider", ix.register_provider(owner.pubkey(), market, "http://127.0.0.1:7001", 2 * SOL, 4), owner)
        record("add_stake", ix.add_stake(owner.pubkey(), market, SOL), owner)
        record("request_unstake", ix.request_unstake(owner.pubkey(), market, SOL), owner)
        runtime.advance(3600)
        record("withdraw_stake", ix.withdraw_stake(owner.pubkey(), market), owner)
        record("update_provider", ix.update_provider(owner.pubkey(), market, "http://127.0.0.1:7002", 8, ProviderStatus.PAUSED), owner)

    order = [i["name"] for i in idl_json()["instructions"]]
    snake = {name: "".join("_" + c.lower() if c.isupper() else c for c in name) for name in order}
    rows = []
    for camel in order:
        name = snake[camel]
        values = units[name]
        goal = CREATION_GOAL if name in CREATIONS else OTHER_GOAL
        within = sum(v <= goal for v in values) / len(values)
        rows.append(CuRow(name, int(statistics.median(values)), min(values), max(values), len(values), goal, within))
    return rows


def markdown(rows: list[CuRow]) -> str:
    lines = [
        "## Compute units per instruction",
        "",
        "Measured in LiteSVM (the real SBPF runtime) with the shipped `.so`, over random keys.",
        "Creating an account derives its canonical PDA bump, ~1,500 CU per bump tried, so",
        "those rows vary with the keys; the goal is checked on the median.",
        "",
        "| instruction | median CU | min | max | samples | goal | median meets goal | samples within goal |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r.instruction}` | {r.median:,} | {r.low:,} | {r.high:,} | {r.samples} | ≤ {r.goal:,} "
            f"| {'yes' if r.meets_goal else '**no**'} | {r.within_goal:.0%} |"
        )
    return "\n".join(lines) + "\n"
