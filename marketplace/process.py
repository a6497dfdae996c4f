"""A Tessera service in a subprocess on loopback: started, awaited until it answers, killed or stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

STARTUP_TIMEOUT = 60.0  # seconds; importing torch, solders and anchorpy dominates on a busy machine
HEALTH_TIMEOUT = 5.0  # seconds one readiness check may take (whatever holds the port may never answer)
PORT_TRIES = 5  # a port picked free can be taken by another process before the service binds it: pick again


class ServiceStartError(RuntimeError):
    """The service exited or did not answer in time; the message has its output."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """`ready` is asked until it returns True; the service's output goes to `log` (or a pipe). `port_flag`: the
    command's option carrying a port this object picked (`self.port`), picked again if another process takes it
    first; None when the caller chose the port."""

    def __init__(self, command: list[str], ready: Callable[[aiohttp.ClientSession], Awaitable[bool]],
                 log: Path | None = None, env: dict[str, str] | None = None, port_flag: str | None = None) -> None:
        self.command, self.ready, self.log, self.env, self.port_flag = command, ready, log, env, port_flag
        self.process: subprocess.Popen | None = None

    def pick_port(self) -> int:
        return free_port()

    async def start(self) -> ServiceProcess:
        for _ in range(PORT_TRIES - 1):
            try:
                started = await self._start()
                break
            except ServiceStartError as exc:
                if self.port_flag is None or "address already in use" not in str(exc).lower():
                    raise
            self.port = self.pick_port()
            self.command[self.command.index(self.port_flag) + 1] = str(self.port)
        else:
            started = await self._start()
        self.port_flag = None  # others know the service by this port now: a restart (after a kill) keeps it
        return started

    async def _start(self) -> ServiceProcess:
        output = open(self.log, "ab") if self.log else subprocess.PIPE  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(self.command, stdout=output, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})})
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)) as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServiceStartError(f"{self.command[2:5]} exited with {self.process.returncode}:\n{self.output()}")
                try:
                    if await self.ready(session):
                        return self
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        self.kill()
        raise ServiceStartError(f"{self.command[2:5]} did not answer within {STARTUP_TIMEOUT:.0f} s:\n{self.output()}")

    def output(self) -> str:
        if self.log:
            return self.log.read_text(errors="replace")[-4000:]
        if self.process and self.process.stdout and self.process.poll() is not None:
            return self.process.stdout.read().decode(errors="replace")[-4000:]
        return ""

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
