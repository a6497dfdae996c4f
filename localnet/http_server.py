"""JSON-RPC's HTTP/1.1 transport: an asyncio protocol on httptools' parser (llhttp, Node.js's).

aiohttp's request machinery (request and response objects, routing, a task per
request) cost ~75 µs of server CPU a request, as much as LiteSVM runs a transfer
in; the methods are synchronous, so a request needs none of it. This answers
POST / with what `answer` makes of the body, in order (pipelined requests
too), with keep-alive, chunked bodies, `Expect: 100-continue`, the body limit
(413), other methods (405) and paths (404); like the validator it answers
GET /health and lets browser pages call it (CORS, any origin). Idle
connections are closed after a while, as aiohttp did.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
from collections.abc import Callable

import httptools

IDLE_SECONDS = 75.0  # a keep-alive connection with no request for this long is closed (aiohttp's default)
HOUSEKEEPING_SECONDS = 1.0  # the Date header's resolution, and how often idle connections are looked for

Answer = Callable[[bytes], bytes]  # a request body to the response body (b"": nothing to answer)


class _Refused(Exception):
    """A request answered with an HTTP error, after which the connection closes (the rest of its bytes are
    unread: a body over the limit, or a stream the parser cannot read)."""

    def __init__(self, status: str) -> None:
        self.status = status


class HttpRpcServer:
    """`await server.start(host, port)` -> the bound port; `await server.close()`."""

    def __init__(self, answer: Answer, max_body: int) -> None:
        self.answer = answer
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self.date = b""
        self._server: asyncio.Server | None = None
        self._housekeeping: asyncio.Task | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._tick()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self._housekeeping = asyncio.create_task(self._keep_house())
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.transport.close()
            await self._server.wait_closed()

    def _tick(self) -> None:
        self.date = b"Date: " + email.utils.formatdate(usegmt=True).encode() + b"\r\n"

    async def _keep_house(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            self._tick()
            stale = loop.time() - IDLE_SECONDS
            for connection in [c for c in self.connections if c.active_at < stale]:
                connection.transport.close()


class _Connection(asyncio.Protocol):
    transport: asyncio.Transport

    def __init__(self, server: HttpRpcServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.on_message_begin()
        self.active_at = 0.0  # when its last bytes arrived: a connection quiet for IDLE_SECONDS is closed

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.loop = asyncio.get_running_loop()
        self.active_at = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    # A client that sends without reading its answers is not read from until it catches up.

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.active_at = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:  # httptools wraps what a callback raised
            self._refuse(error.__context__.status if isinstance(error.__context__, _Refused) else "400 Bad Request")
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._refuse("400 Bad Request")

    # the parser's callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.body.clear()
        self.body_size = 0
        self.expects_continue = False
        self.cors = b""  # the header that lets a browser page read the answer, for requests that name an Origin
        self.cors_request_headers = b"content-type"

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" and value.strip().isdigit() and int(value) > self.server.max_body:
            raise _Refused("413 Request Entity Too Large")
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expects_continue = True
        elif name == b"origin":
            self.cors = b"Access-Control-Allow-Origin: *\r\n"
        elif name == b"access-control-request-headers":
            self.cors_request_headers = value

    def on_headers_complete(self) -> None:
        if self.expects_continue and self.parser.get_method() == b"POST":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.body_size > self.server.max_body:
            raise _Refused("413 Request Entity Too Large")
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive()
        method, path = self.parser.get_method(), httptools.parse_url(self.url).path
        if method == b"POST" and path == b"/":
            self._write("200 OK", self.server.answer(b"".join(self.body)))
        elif method == b"GET" and path == b"/health":  # the validator's own health check, beside getHealth
            self._write("200 OK", b"ok", content_type=b"text/plain")
        elif method == b"OPTIONS":  # a browser's CORS preflight: any origin may call, as on the validator
            self.cors = b"Access-Control-Allow-Origin: *\r\n"
            self._write("200 OK", b"", b"Access-Control-Allow-Methods: POST, OPTIONS\r\nAccess-Control-Allow-Headers: "
                        + self.cors_request_headers + b"\r\nAccess-Control-Max-Age: 86400\r\n")
        elif method != b"POST":
            self._write("405 Method Not Allowed", b"Used HTTP Method is not allowed. POST or OPTIONS is required",
                        b"Allow: POST, OPTIONS\r\n", content_type=b"text/plain")
        else:
            self._write("404 Not Found", b"Not Found", content_type=b"text/plain")
        if not keep_alive:
            self.transport.close()

    # writing

    def _write(self, status: str, body: bytes, extra_headers: bytes = b"",
               content_type: bytes = b"application/json") -> None:
        headers = b"Content-Type: " + content_type + b"\r\n" if body else b""
        self.transport.write(b"HTTP/1.1 " + status.encode() + b"\r\n" + self.server.date + headers + self.cors
                             + extra_headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def _refuse(self, status: str) -> None:
        self._write(status, status.split(" ", 1)[1].encode(), b"Connection: close\r\n", content_type=b"text/plain")
        self.transport.close()
