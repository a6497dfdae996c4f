"""A service started on a port picked free, which another process takes before the service binds it, starts on
another port; one the caller chose is not changed behind its back."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from localnet.process import LocalnetProcess
from marketplace.process import ServiceStartError


async def test_a_picked_port_taken_before_the_service_binds_it_is_picked_again():
    with socket.socket() as taken:  # bound, not listening: binding it fails, connecting to it is refused
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        net = LocalnetProcess()
        net.port = port  # as if another process bound the picked port between the pick and the bind
        net.command[net.command.index("--port") + 1] = str(port)
        async with net, aiohttp.ClientSession() as session:
            assert net.port != port
            async with session.post(net.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}) as response:
                assert (await response.json())["result"] == "ok"

        with pytest.raises(ServiceStartError, match="address already in use"):
            async with LocalnetProcess(port=port):
                pass
