"""Runs localnet in a subprocess on free loopback ports: `async with LocalnetProcess() as net: net.url`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from localnet.errors import LocalnetError

STARTUP_TIMEOUT = 30.0  # seconds; importing solders and anchorpy dominates


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port p such that p and p + 1 (HTTP and WebSocket) are both free now."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((host, 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind((host, port + 1))
                except OSError:
                    continue
                return port
    raise LocalnetError("no free pair of loopback ports")


class LocalnetProcess:
    def __init__(self, ledger: Path | None = None, reset: bool = False, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host, self.ledger, self.reset = host, ledger, reset
        self.port = port or free_port_pair(host)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port + 1}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "client.cli", "localnet", "--quiet", "--port", str(self.port)]
        if self.ledger is not None:
            cmd += ["--ledger", str(self.ledger)]
        if self.reset:
            cmd.append("--reset")
        return cmd

    async def start(self) -> LocalnetProcess:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                    raise LocalnetError(f"localnet exited with {self.process.returncode}:\n{output}")
                try:
                    async with session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}) as r:
                        if (await r.json()).get("result") == "ok":
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        self.kill()
        raise LocalnetError(f"localnet did not answer on {self.url} within {STARTUP_TIMEOUT:.0f} s")

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def __aenter__(self) -> LocalnetProcess:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
