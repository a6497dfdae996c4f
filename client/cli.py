"""The `tessera` command line. Thin: parsing here, work in the packages, formatting in client.formatting."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from client.channel_commands import channel
from client.commands import airdrop, audit, chat, embed, generate, job, market
from marketplace.sbf.errors import SbfBuildError
from localnet.cli import command as localnet
from marketplace.aggregator.cli import command as aggregator
from provider.cli import provider



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
def demo() -> None:
    """Run the whole market locally (localnet, aggregator, three providers) and pay for inference with it."""
    from client.demo import DemoError, run_demo

    console = Console()
    try:
        run_demo(console)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        sys.exit(1)


for command in (generate, chat, embed, channel, job, market, airdrop, audit, localnet, aggregator, provider):
    main.add_command(command)

if __name__ == "__main__":
    main()
