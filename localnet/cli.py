"""`tessera localnet`: the embedded chain in the foreground, or a real solana-test-validator."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import uvloop
from rich.console import Console
from rich.live import Live
from rich.table import Table

from localnet.errors import LocalnetError
from localnet.server import Localnet, LocalnetConfig
from marketplace.chain import PROGRAM_ID
from marketplace.chain.program import SO_PATH

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
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except TimeoutError:
                    pass


def run(port: int, host: str, ledger: Path | None, reset: bool, quiet: bool, validator: bool) -> None:
    config = LocalnetConfig(host=host, port=port, ledger=ledger, reset=reset)
    if validator:
        os.execvp(VALIDATOR, validator_command(config, quiet))
    # uvloop's event loop roughly halves the per-request cost of the server.
    uvloop.run(serve(config, quiet, Console()))
