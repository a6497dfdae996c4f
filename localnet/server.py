"""The localnet server: Solana JSON-RPC over HTTP (`http_server`) and PubSub over WebSocket (aiohttp), on the local
chain.

`Localnet` runs it in-process as an async context manager (tests, the demo);
`tessera localnet` runs it in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from localnet.chain import LocalChain
from localnet.errors import InvalidRequest, ParseError, RpcError
from localnet.http_server import HttpRpcServer
from localnet.ledger import Ledger
from localnet.rpc import RpcMethods
from localnet.subscriptions import Subscriptions

log = logging.getLogger("tessera.localnet")

MAX_BODY_BYTES = 50 * 1024  # the validator's limit on a request body
SUBSCRIPTIONS = web.AppKey("subscriptions", Subscriptions)


@dataclass(frozen=True)
class LocalnetConfig:
    host: str = "127.0.0.1"
    port: int = 8899  # HTTP; WebSocket listens on port + 1, as solana-test-validator does
    ledger: Path | None = None  # None: state lives in memory
    reset: bool = False  # start the ledger afresh
    slot_interval: float = 0.4  # seconds per slot


def _response(id_: Any, result: Any = None, error: RpcError | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "error": error.to_json(), "id": id_}
    return {"jsonrpc": "2.0", "result": result, "id": id_}


def run_call(methods: RpcMethods, request: Any) -> dict | None:
    """One JSON-RPC request object to its response (None for a notification: a well-formed request without an id,
    which is run and never answered); nothing raised escapes."""
    if (not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str)
            or not isinstance(request.get("id"), (int, str, type(None))) or isinstance(request.get("id"), bool)):
        return _response(request.get("id") if isinstance(request, dict) else None, error=InvalidRequest("Invalid request"))
    answer = _run(methods, request)
    return answer if "id" in request else None


def _run(methods: RpcMethods, request: dict) -> dict:
    id_ = request.get("id")
    try:
        return _response(id_, methods.call(request["method"], request.get("params")))
    except RpcError as exc:
        return _response(id_, error=exc)
    except Exception:  # a bug must cost one request, never the server
        log.exception("internal error in %s", request["method"])
        return _response(id_, error=RpcError("Internal error"))
    except BaseException as exc:  # solders raises Rust panics as PanicException(BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        log.error("runtime panic in %s: %s", request["method"], exc)
        return _response(id_, error=RpcError("Internal error"))


def answer_http(methods: RpcMethods, body: bytes) -> bytes:
    """A POSTed body to the response body, as the validator answers: a batch gets a list in order with an error per
    failed entry, nothing for notifications (an empty body when nothing is left to answer); an empty batch is one
    invalid request."""
    try:
        payload = _loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser's depth: still a parse error
        return orjson.dumps(_response(None, error=ParseError("Parse error")))
    if payload == []:
        return orjson.dumps(_response(None, error=InvalidRequest("Invalid request")))
    if isinstance(payload, list):  # as many as fit the body limit
        answers = [answer for item in payload if (answer := run_call(methods, item)) is not None]
    else:
        answers = run_call(methods, payload)
    return orjson.dumps(answers) if answers else b""


def _loads(body: bytes) -> Any:
    """orjson, fast; the json module where orjson is stricter than the validator's parser (integers past 64 bits,
    which are then refused as the parameters they are, not as unparsable JSON)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


async def handle_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES)
    await ws.prepare(request)
    subscriptions = request.app[SUBSCRIPTIONS]
    outbox: asyncio.Queue[dict] = asyncio.Queue()
    owned: set[int] = set()

    async def writer() -> None:
        while True:
            await ws.send_json(await outbox.get())

    writer_task = asyncio.create_task(writer())
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                call = json.loads(message.data)
                if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
                    raise InvalidRequest("Invalid request")
                subscriptions.handle(call["method"], call.get("params"), outbox.put_nowait, owned,
                                     lambda result: outbox.put_nowait(_response(call.get("id"), result)))
            except (ValueError, RecursionError):
                outbox.put_nowait(_response(None, error=ParseError("Parse error")))
            except RpcError as exc:
                outbox.put_nowait(_response(call.get("id") if isinstance(call, dict) else None, error=exc))
    finally:
        subscriptions.drop(owned)
        writer_task.cancel()
    return ws


async def _slot_clock(chain: LocalChain, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        chain.tick()


def create_ws_app(chain: LocalChain) -> web.Application:
    app = web.Application()
    app[SUBSCRIPTIONS] = Subscriptions(chain)
    app.router.add_get("/", handle_ws)
    return app


def open_chain(config: LocalnetConfig) -> LocalChain:
    if config.ledger is None:
        return LocalChain()
    ledger = Ledger.reset(config.ledger) if config.reset else Ledger(config.ledger)
    return LocalChain(ledger=ledger)


class Localnet:
    """The server in this process: `async with Localnet(LocalnetConfig(port=0)) as net: net.url`."""

    def __init__(self, config: LocalnetConfig = LocalnetConfig()) -> None:
        self.config = config
        self.chain: LocalChain | None = None
        self._http: HttpRpcServer | None = None
        self._ws: web.AppRunner | None = None
        self._clock: asyncio.Task | None = None
        self.port = self.ws_port = 0

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.ws_port}"

    async def start(self) -> Localnet:
        self.chain = open_chain(self.config)
        try:
            await self._serve(self.chain)
        except BaseException:  # a port taken, say: nothing is left listening or open
            await self.stop()
            raise
        return self

    async def _serve(self, chain: LocalChain) -> None:
        methods = RpcMethods(chain)
        self._http = HttpRpcServer(lambda body: answer_http(methods, body), MAX_BODY_BYTES)
        self.port = await self._http.start(self.config.host, self.config.port)
        self._ws = web.AppRunner(create_ws_app(chain), access_log=None)
        await self._ws.setup()
        ws_site = web.TCPSite(self._ws, self.config.host, self.port + 1 if self.config.port else 0)
        await ws_site.start()
        self.ws_port = ws_site._server.sockets[0].getsockname()[1]
        methods.rpc_address, methods.pubsub_address = f"{self.config.host}:{self.port}", f"{self.config.host}:{self.ws_port}"
        self._clock = asyncio.create_task(_slot_clock(chain, self.config.slot_interval))

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        if self._ws is not None:
            await self._ws.cleanup()
        if self._http is not None:
            await self._http.close()
        self._clock = self._ws = self._http = None
        if self.chain is not None and self.chain.ledger is not None:
            self.chain.ledger.close()

    async def __aenter__(self) -> Localnet:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
