"""The `tessera` command line. Thin: parsing here, work in the packages, formatting in client.formatting."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from client.commands import airdrop, audit, chat, embed, generate, job, market
from marketplace.sbf.errors import SbfBuildError
from provider.cli import provider

# The Solana CLI's default keypair, as `solana` and `anchor` use it.
DEFAULT_KEYPAIR = Path.home() / ".config" / "solana" / "id.json"


@click.group()
@click.version_option(package_name="tessera")
def main() -> None:
    """Tessera: a marketplace for AI inference settled on Solana."""


@main.group()
def program() -> None:
    """Build and inspect the on-chain program."""


@program.command("build")
@click.option("--clang", default="clang-19", show_default=True, help="clang with the BPF backend.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the .so (default: the one shipped in the package).")
def program_build(clang: str, out: Path | None) -> None:
    """Regenerate the C header from the IDL, compile with clang-19 and link the SBPF v0 .so."""
    from marketplace.chain.program import SO_PATH
    from marketplace.sbf.build import build_program

    try:
        result = build_program(out=out or SO_PATH, clang=clang)
    except SbfBuildError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.header_changed:
        click.echo("regenerated programs/tessera/include/tessera/idl.h from the IDL")
    click.echo(f"wrote {result.so_path} ({result.size:,} bytes, sha256 {result.sha256})")


@main.command()
@click.option("--port", default=8899, show_default=True, help="HTTP JSON-RPC port; WebSocket uses port + 1.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--ledger", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep state in this directory across restarts (default: in memory).")
@click.option("--reset", is_flag=True, help="Start the ledger afresh.")
@click.option("--quiet", is_flag=True, help="Print the URLs once instead of a live status.")
@click.option("--validator", is_flag=True, help="Run solana-test-validator (on PATH) with the program preloaded instead.")
def localnet(port: int, host: str, ledger: Path | None, reset: bool, quiet: bool, validator: bool) -> None:
    """A local Solana chain with the Tessera program deployed, for development and tests."""
    from localnet.cli import run
    from localnet.errors import LocalnetError

    try:
        run(port, host, ledger, reset, quiet, validator)
    except (LocalnetError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--db", default=None, help="SQLAlchemy URL (default: SQLite in the current directory); "
              "postgresql+asyncpg://... for several aggregators on one database.")
@click.option("--db-schema", default=None, help="PostgreSQL schema for the tables.")
@click.option("--rpc", default="http://127.0.0.1:8899", show_default=True, help="Solana JSON-RPC URL.")
@click.option("--keypair", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_KEYPAIR, show_default=True,
              help="The market's verifier keypair (Solana CLI JSON).")
@click.option("--market", required=True, help="The Market account's address.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--price", default=100_000, show_default=True, help="Lamports quoted per shard execution.")
@click.option("--claim-timeout", default=60, show_default=True, help="Seconds a provider has to return claimed work.")
@click.option("--log-level", default="info", show_default=True)
def aggregator(db: str | None, db_schema: str | None, rpc: str, keypair: Path, market: str, host: str, port: int,
               price: int, claim_timeout: int, log_level: str) -> None:
    """The market's orchestrator, verifier and cache (HTTP API on --host/--port)."""
    from marketplace.aggregator.cli import default_db, run
    from marketplace.aggregator.config import AggregatorConfig

    if not keypair.exists():
        raise click.ClickException(f"keypair {keypair} not found (create one with solana-keygen, or pass --keypair)")
    run(AggregatorConfig(rpc_url=rpc, keypair=keypair, market=market, db_url=db or default_db(), db_schema=db_schema,
                         host=host, port=port, price_per_shard=price, claim_timeout=claim_timeout), log_level)


@main.command()
def demo() -> None:
    """Run the whole market locally (localnet, aggregator, three providers) and pay for inference with it."""
    from client.demo import DemoError, run_demo

    console = Console()
    try:
        run_demo(console)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        sys.exit(1)


main.add_command(provider)
for command in (generate, chat, embed, job, market, airdrop, audit):
    main.add_command(command)

if __name__ == "__main__":
    main()
