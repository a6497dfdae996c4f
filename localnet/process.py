"""Runs localnet in a subprocess on free loopback ports: `async with LocalnetProcess() as net: net.url`."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import aiohttp

from localnet.errors import LocalnetError
from marketplace.process import ServiceProcess


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


class LocalnetProcess(ServiceProcess):
    def __init__(self, ledger: Path | None = None, reset: bool = False, port: int | None = None, host: str = "127.0.0.1",
                 log: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port_pair(host)
        port_flag = None if port else "--port"
        command = [sys.executable, "-m", "localnet", "--quiet", "--port", str(self.port), "--host", host]
        if ledger is not None:
            command += ["--ledger", str(ledger)]
        if reset:
            command.append("--reset")
        super().__init__(command, self._healthy, log, port_flag=port_flag)

    def pick_port(self) -> int:
        return free_port_pair(self.host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port + 1}"

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        async with session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}) as response:
            return (await response.json()).get("result") == "ok"
