"""`tessera localnet`: the embedded chain in the foreground, or a real solana-test-validator."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
from pathlib import Path

import click
import uvloop
from rich.console import Console
from rich.live import Live
from rich.table import Table
from solders.keypair import Keypair

from localnet.errors import LocalnetError
from localnet.server import Localnet, LocalnetConfig
from marketplace.chain import PROGRAM_ID
from marketplace.chain.program import SO_PATH
from marketplace.errors import KeypairError
from marketplace.keys import load_keypair, write_keypair

VALIDATOR = "solana-test-validator"


def validator_command(config: LocalnetConfig, quiet: bool) -> list[str]:
    """solana-test-validator with the Tessera program preloaded, on the same ports."""
    if shutil.which(VALIDATOR) is None:
        raise LocalnetError(f"{VALIDATOR} is not on PATH; drop --validator to use the embedded localnet")
    cmd = [VALIDATOR, "--bpf-program", str(PROGRAM_ID), str(SO_PATH), "--rpc-port", str(config.port), "--bind-address", config.host]
    if config.ledger is not None:
        cmd += ["--ledger", str(config.ledger)]
    if config.reset:
        cmd.append("--reset")
    if quiet:
        cmd.append("--quiet")
    return cmd


def _status(net: Localnet) -> Table:
    chain = net.chain
    table = Table(title="tessera localnet", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in (
        ("JSON RPC URL", net.url), ("WebSocket URL", net.ws_url), ("program", str(PROGRAM_ID)),
        ("faucet", f"{chain.faucet.pubkey()} (requestAirdrop)"), ("ledger", str(net.config.ledger or "in memory")),
        ("slot", f"{chain.slot:,}"), ("transactions", f"{len(chain.transactions):,}"),
    ):
        table.add_row(name, value)
    return table


async def serve(config: LocalnetConfig, quiet: bool, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Localnet(config) as net:
        if config.ledger is not None:
            faucet_file = config.ledger / "faucet.json"
            faucet_file.write_text(json.dumps(list(bytes(net.chain.faucet))))
            os.chmod(faucet_file, 0o600)
        if quiet:
            console.print(f"JSON RPC URL: {net.url}\nWebSocket URL: {net.ws_url}\nprogram: {PROGRAM_ID}\nfaucet: {net.chain.faucet.pubkey()}")
            await stop.wait()
            return
        with Live(_status(net), console=console, refresh_per_second=2) as live:
            while not stop.is_set():
                live.update(_status(net))
                with contextlib.suppress(TimeoutError):  # not wait_for, which on 3.11 can swallow a cancellation
                    async with asyncio.timeout(0.5):
                        await stop.wait()


@click.group("localnet", invoke_without_command=True)
@click.option("--port", default=8899, show_default=True, help="HTTP JSON-RPC port; WebSocket uses port + 1.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--ledger", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep state in this directory across restarts (default: in memory).")
@click.option("--reset", is_flag=True, help="Start the ledger afresh.")
@click.option("--quiet", is_flag=True, help="Print the URLs once instead of a live status.")
@click.option("--validator", is_flag=True, help="Run solana-test-validator (on PATH) with the program preloaded instead.")
@click.pass_context
def command(ctx: click.Context, port: int, host: str, ledger: Path | None, reset: bool, quiet: bool, validator: bool) -> None:
    """A local Solana chain with the Tessera program deployed, for development and tests."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        run(port, host, ledger, reset, quiet, validator)
    except (LocalnetError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


def run(port: int, host: str, ledger: Path | None, reset: bool, quiet: bool, validator: bool) -> None:
    config = LocalnetConfig(host=host, port=port, ledger=ledger, reset=reset)
    if validator:
        os.execvp(VALIDATOR, validator_command(config, quiet))
    _collect_garbage_rarely()
    # uvloop's event loop roughly halves the per-request cost of the server.
    uvloop.run(serve(config, quiet, Console()))


def _collect_garbage_rarely() -> None:
    """The chain keeps every transaction's record in memory and each request makes a few dozen objects, so the
    cyclic collector's default pace (every 700 allocations) spends ~5% of a transaction rescanning them. Records
    hold no cycles (reference counting frees what is dropped): what exists at start is frozen out of the scans and
    young objects are collected every 50,000 allocations instead."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@command.command("deploy")
@click.argument("program", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keypair", "payer_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The payer and upgrade authority (a Solana keypair file).")
@click.option("--program-id", "program_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keypair file of the program's address: a new one is written beside PROGRAM if absent.")
@click.option("--url", default="http://127.0.0.1:8899", show_default=True, help="JSON-RPC URL (localnet or any cluster).")
def deploy_command(program: Path, payer_path: Path, program_path: Path | None, url: str) -> None:
    """Deploy PROGRAM (an SBF .so), or upgrade it where its address already holds a program, as the Solana CLI
    does with the upgradeable loader."""
    # The RPC client behind deploys is imported here: `tessera localnet` itself starts ~70 ms sooner without it.
    import httpx
    from solana.rpc.core import RPCException

    program_path = program_path or program.with_name(program.stem + "-keypair.json")
    if not program_path.exists():
        write_keypair(program_path)
    try:
        address, signature, upgraded = asyncio.run(_deploy(url, load_keypair(payer_path), load_keypair(program_path),
                                                            program.read_bytes()))
    except (RPCException, KeypairError, OSError, httpx.HTTPError) as exc:
        raise click.ClickException(f"deploy failed: {exc}") from exc
    Console().print(f"Program Id: {address}\n{'Upgraded' if upgraded else 'Deployed'} in {signature}")


async def _deploy(url: str, payer: Keypair, program: Keypair, so: bytes) -> tuple[str, str, bool]:
    from solana.rpc.async_api import AsyncClient

    from localnet import deploy

    async with AsyncClient(url) as client:
        existing = (await client.get_account_info(program.pubkey())).value
        if existing is not None and existing.owner == deploy.LOADER_V3:
            return str(program.pubkey()), str(await deploy.upgrade_program(client, payer, program.pubkey(), so)), True
        return str(program.pubkey()), str(await deploy.deploy(client, payer, program, so)), False
