"""The walkthrough `tessera demo` runs: a market and two staked providers on an in-process chain.

It uses the shipped program (no compiler), sends every transaction through
the real Solana runtime, and shows the accounts as their owners would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client.formatting import LAMPORTS_PER_SOL, market_table, provider_table, short, sol
from localnet import LocalRuntime, TransactionOutcome
from marketplace.chain import MarketAccount, MarketConfig, ProviderAccount, market_address, program_so, provider_address
from marketplace.chain import instructions as ix

WEEK = 7 * 24 * 3600


class DemoError(Exception):
    """A demo transaction failed; the message has the program's logs."""


@dataclass
class Ledger:
    """Every transaction the demo sends, and the lamports it can account for."""

    runtime: LocalRuntime
    rows: list[tuple[str, TransactionOutcome]] = field(default_factory=list)
    fees: int = 0

    def send(self, label: str, instruction: Instruction, signer: Keypair) -> TransactionOutcome:
        outcome = self.runtime.send([instruction], [signer])
        if not outcome.ok:
            raise DemoError(f"{label} failed: {outcome.error}\n" + "\n".join(outcome.logs))
        self.fees += outcome.fee
        self.rows.append((label, outcome))
        return outcome

    def table(self) -> Table:
        table = Table(title="Transactions", title_justify="left")
        for column in ("instruction", "signature", "compute units", "events"):
            table.add_column(column, justify="right" if column == "compute units" else "left")
        for label, outcome in self.rows:
            table.add_row(label, short(outcome.signature), f"{outcome.compute_units:,}", ", ".join(e.name for e in outcome.events))
        return table


def run_demo(console: Console) -> None:
    so = program_so()
    runtime = LocalRuntime(program=so)
    console.print(f"[bold]Tessera[/bold] program {runtime.program_id} (sha256 {hashlib.sha256(so).hexdigest()[:16]}…, {len(so):,} bytes) loaded into LiteSVM")

    authority, alice, bob = Keypair(), Keypair(), Keypair()
    wallets = {"authority": authority.pubkey(), "alice": alice.pubkey(), "bob": bob.pubkey()}
    for key in wallets.values():
        runtime.airdrop(key, 10 * LAMPORTS_PER_SOL)
    market, _ = market_address(authority.pubkey())
    providers = {name: provider_address(market, key)[0] for name, key in (("alice", alice.pubkey()), ("bob", bob.pubkey()))}
    watched: dict[str, Pubkey] = {**wallets, "market": market, **{f"{n}'s provider": p for n, p in providers.items()}}
    before = sum(runtime.balance(k) for k in watched.values())

    ledger = Ledger(runtime)
    config = MarketConfig(
        verifier=Keypair().pubkey(), treasury=Keypair().pubkey(), min_stake=LAMPORTS_PER_SOL,
        unbonding_period=WEEK, claim_timeout=60, fee_bps=200, slash_bps=5_000, sampling_rate_bps=1_000,
        cache_fee_bps=2_500,
    )
    ledger.send("initialize_market", ix.initialize_market(authority.pubkey(), config), authority)
    ledger.send("register_provider (alice)", ix.register_provider(alice.pubkey(), market, "http://127.0.0.1:7001", 2 * LAMPORTS_PER_SOL, 4), alice)
    ledger.send("register_provider (bob)", ix.register_provider(bob.pubkey(), market, "http://127.0.0.1:7002", 3 * LAMPORTS_PER_SOL, 8), bob)
    ledger.send("add_stake (alice)", ix.add_stake(alice.pubkey(), market, LAMPORTS_PER_SOL), alice)
    ledger.send("request_unstake (bob)", ix.request_unstake(bob.pubkey(), market, LAMPORTS_PER_SOL // 2), bob)

    console.print(ledger.table())
    console.print(market_table(market, MarketAccount.decode(runtime.account_data(market))))
    for address in providers.values():
        console.print(provider_table(address, ProviderAccount.decode(runtime.account_data(address))))

    after = sum(runtime.balance(k) for k in watched.values())
    summary = Table(title="Lamports", title_justify="left")
    summary.add_column("account")
    summary.add_column("balance", justify="right")
    for name, key in watched.items():
        summary.add_row(name, sol(runtime.balance(key)))
    summary.add_row("transaction fees", f"{ledger.fees:,} lamports")
    console.print(summary)
    conserved = before == after + ledger.fees
    console.print(
        f"before {before:,} = after {after:,} + fees {ledger.fees:,} lamports: "
        + ("[green]conserved[/green]" if conserved else "[red]NOT conserved[/red]")
    )
    if not conserved:
        raise DemoError("lamports were not conserved")
