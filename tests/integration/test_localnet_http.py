"""localnet's HTTP/1.1 transport, byte for byte as clients send it: keep-alive, pipelining, chunked bodies,
`Expect: 100-continue`, and the errors that close a connection without harming the others."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field

import httptools
import pytest

from localnet import http_server
from localnet.process import free_port_pair
from localnet.server import Localnet, LocalnetConfig
from tests.integration.conftest import rpc_call


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def json(self):
        return json.loads(self.body)


class _Responses:
    """What a connection sent back, parsed by httptools' response parser."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: list[Response] = []
        self.current: Response | None = None

    def on_message_begin(self) -> None:
        self.current = Response(0)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self.current)


async def exchange(port: int, data: bytes, responses: int, *, then_closed: bool = False) -> list[Response]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    parsed = _Responses()
    try:
        writer.write(data)
        while len(parsed.done) < responses:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, f"connection closed after {len(parsed.done)} of {responses} responses"
            parsed.parser.feed_data(chunk)
        if then_closed:
            assert await asyncio.wait_for(reader.read(), 5) == b""
        return parsed.done
    finally:
        writer.close()


def post(body: bytes, *headers: bytes, path: bytes = b"/") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + b"".join(h + b"\r\n" for h in headers)
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def call(id_: int, method: str = "getSlot") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method}).encode()


async def test_pipelined_requests_are_answered_in_order_on_one_connection(net):
    answers = await exchange(net.port, b"".join(post(call(i)) for i in range(50)), 50)
    assert [a.json["id"] for a in answers] == list(range(50))
    assert all(a.status == 200 and a.headers["content-type"] == "application/json" and "date" in a.headers for a in answers)


async def test_a_chunked_body_is_read_whole(net):
    body = call(7, "getHealth")
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:])) + b"0\r\n\r\n"
    request = b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    [answer] = await exchange(net.port, request, 1)
    assert answer.json == {"jsonrpc": "2.0", "result": "ok", "id": 7}


async def test_expect_100_continue_is_answered_before_the_body_is_sent(net):
    reader, writer = await asyncio.open_connection("127.0.0.1", net.port)
    body = call(1, "getHealth")
    writer.write(b"POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    assert b'"result":"ok"' in await asyncio.wait_for(reader.read(65536), 5)
    writer.close()


async def test_http_1_0_and_connection_close_are_answered_then_closed(net):
    [answer] = await exchange(net.port, post(call(1)).replace(b"HTTP/1.1", b"HTTP/1.0"), 1, then_closed=True)
    assert answer.json["id"] == 1
    [answer] = await exchange(net.port, post(call(2), b"Connection: close"), 1, then_closed=True)
    assert answer.json["id"] == 2


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 405),
    (b"PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}", 405),
    (post(call(1), path=b"/rpc"), 404),
])
async def test_other_methods_and_paths_are_refused_and_the_connection_serves_on(net, request_bytes, status):
    refused, answer = await exchange(net.port, request_bytes + post(call(9)), 2)
    assert refused.status == status
    assert answer.json["id"] == 9


async def test_get_health_answers_as_the_validators_does(net):
    [answer] = await exchange(net.port, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n", 1)
    assert (answer.status, answer.body) == (200, b"ok")


async def test_a_browser_page_may_call_it_from_any_origin(net):
    preflight = (b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:3000\r\n"
                 b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, solana-client\r\n\r\n")
    allowed, answer = await exchange(net.port, preflight + post(call(3), b"Origin: http://localhost:3000"), 2)
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == "*"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers["access-control-allow-headers"] == "content-type, solana-client"
    assert answer.headers["access-control-allow-origin"] == "*" and answer.json["id"] == 3
    [plain] = await exchange(net.port, post(call(4)), 1)
    assert "access-control-allow-origin" not in plain.headers  # only where a page asked


@pytest.mark.parametrize("request_bytes,status", [
    (b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n{", 413),  # refused from its headers, before its body
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"8000\r\n" + b"x" * 0x8000 + b"\r\n" + b"8000\r\n"
     + b"x" * 0x8000 + b"\r\n0\r\n\r\n", 413),  # a chunked body found over the limit as it arrives
    (b"NOT HTTP AT ALL\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),  # smuggling-shaped headers
])
async def test_unreadable_requests_are_refused_and_closed_while_others_are_served(net, request_bytes, status):
    [refused] = await exchange(net.port, request_bytes, 1, then_closed=True)
    assert refused.status == status
    assert (await rpc_call(net.url, "getHealth"))["result"] == "ok"


async def test_a_client_that_never_reads_is_not_read_from_and_harms_nobody(net):
    reader, writer = await asyncio.open_connection("127.0.0.1", net.port)
    many = post(call(1, "getLatestBlockhash")) * 20_000  # far more answers than the socket buffers hold
    writer.write(many)
    await asyncio.sleep(0.5)
    assert (await rpc_call(net.url, "getHealth"))["result"] == "ok"
    parsed = _Responses()
    while len(parsed.done) < 20_000:
        parsed.parser.feed_data(await asyncio.wait_for(reader.read(1 << 20), 10))
    assert {a.status for a in parsed.done} == {200}
    writer.close()


async def test_idle_connections_are_closed(net, monkeypatch):
    monkeypatch.setattr(http_server, "IDLE_SECONDS", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", net.port)
    writer.write(post(call(1)))
    await asyncio.wait_for(reader.readuntil(b'"id":1}'), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server within a housekeeping round
    writer.close()


async def test_a_start_that_cannot_bind_leaves_nothing_listening():
    port = free_port_pair()
    with socket.socket() as squatter:  # the WebSocket port (HTTP's + 1) is taken
        squatter.bind(("127.0.0.1", port + 1))
        squatter.listen()
        with pytest.raises(OSError):
            await Localnet(LocalnetConfig(port=port)).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the HTTP port was let go
