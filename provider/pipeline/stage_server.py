"""A stage's HTTP API: sessions over one span of a model, checks for verifiers, and fragments for peers.

    POST   /v1/sessions                       {"model", "layers", "max_length"} -> 201 {"session", ...} | 429 stage_full
    POST   /v1/sessions/{session}/steps/{n}   float32 bytes in -> float32 bytes out, X-Tessera-Receipt
    DELETE /v1/sessions/{session}
    POST   /v1/commit                         the verifier's signed request -> one submit_results for the job's shards
                                              this stage served (receipts' roots of sessions) or checked
    POST   /v1/recompute                      a recorded sequence in -> the span's output in one prefill (committed
                                              as a check when the verifier's signed X-Tessera-Check asks)
    POST   /v1/trace                          a recorded sequence in -> every layer's output (X-Tessera-Layers)
    GET    /v1/models/{digest}/files/{name}   the manifest, config and tokenizer files
    GET    /v1/fragments/{sha256}             a fragment's bytes (HTTP Range: resumable)
    GET    /health

Activations travel as raw bytes (application/octet-stream), never JSON. Model compute runs on one worker
thread, so the event loop keeps answering (health, fragments, a full stage's 429) while a step runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from marketplace.chain import ChainError
from marketplace.chain.accounts import MAX_SHARDS
from marketplace.errors import MessageError, MessageFormatError
from marketplace.messages import SignedMessage
from marketplace.pipeline import activations
from marketplace.pipeline.activations import CHECK_HEADER, OCTETS, RECEIPT_HEADER
from marketplace.pipeline.errors import (
    ActivationMalformed,
    FragmentError,
    PipelineError,
    SessionOutOfOrder,
    SessionTooLong,
    SessionUnknown,
    StageFull,
)
from marketplace.pipeline.fragments import FILE_NAME, SHA256_HEX, Span
from marketplace.pipeline.store import MANIFEST, FragmentStore
from provider.pipeline.sessions import StageSessions
from provider.pipeline.stage_market import NotInMarket, StageMarket

log = logging.getLogger("tessera.stage")
SESSIONS = web.AppKey("sessions", StageSessions)
STORE = web.AppKey("store", FragmentStore)
COMPUTE = web.AppKey("compute", ThreadPoolExecutor)
MARKET = web.AppKey("market", StageMarket)
STATUS = {SessionUnknown: 404, SessionOutOfOrder: 409, SessionTooLong: 400, StageFull: 429, ActivationMalformed: 400,
          FragmentError: 404, NotInMarket: 409}
EXPIRY_INTERVAL = 5.0  # seconds between sweeps for idle sessions
MAX_BODY = 64 << 20  # a prefill of 8192 tokens at hidden 2048 in float32


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PipelineError as exc:
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
        response = _error(status, exc.code, str(exc))
        if status == 429:
            response.headers["Retry-After"] = "1"
        return response
    except MessageFormatError as exc:
        return _error(400, exc.code, str(exc))
    except MessageError as exc:
        return _error(401, exc.code, str(exc))
    except ChainError as exc:
        return _error(502, "chain_refused", f"the chain refused the commitment: {exc}")
    except web.HTTPNotFound:
        return _error(404, "route_not_found", f"no route {request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal error")


routes = web.RouteTableDef()


async def _compute(request: web.Request, function, *args):
    return await asyncio.get_running_loop().run_in_executor(request.app[COMPUTE], function, *args)


async def _octets(request: web.Request) -> bytes:
    if request.content_type != OCTETS:
        raise ActivationMalformed(f"activations are sent as {OCTETS} (raw float32, little-endian), not {request.content_type}")
    return await request.read()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    span = sessions.span
    return web.json_response({"status": "ok", "model": span.manifest.hex, "name": span.manifest.name,
                              "layers": str(span.span), "hidden_size": span.hidden_size, "sessions": len(sessions),
                              "max_sessions": sessions.max_sessions, "stage": str(sessions.keypair.pubkey()),
                              "parameters": span.parameters(), "resident_bytes": _resident_bytes()})


@routes.post("/v1/sessions")
async def open_session(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    try:
        body = await request.json()
        model, layers, max_length = body["model"], Span.parse(str(body["layers"])), int(body["max_length"])
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, "session_malformed", f"a session is opened with model, layers and max_length: {exc!r}")
    if model != sessions.span.manifest.hex or layers != sessions.span.span:
        return _error(404, "span_not_served", f"this stage serves layers {sessions.span.span} of "
                                              f"{sessions.span.manifest.hex}, not layers {layers} of {model}")
    session = sessions.open(max_length)
    return web.json_response({"session": session.id, "max_length": session.max_length,
                              "idle_timeout": sessions.idle_timeout, "stage": str(sessions.keypair.pubkey())}, status=201)


@routes.post("/v1/sessions/{session}/steps/{step:\\d+}")
async def step(request: web.Request) -> web.Response:
    data = await _octets(request)
    started = time.perf_counter()
    answer = await _compute(request, request.app[SESSIONS].step, request.match_info["session"],
                            int(request.match_info["step"]), data)
    # Server-Timing: what of the driver's wait was this stage's work, and what was the wire's.
    return web.Response(body=answer.output, content_type=OCTETS,
                        headers={RECEIPT_HEADER: answer.receipt.header(), "X-Tessera-Length": str(answer.length),
                                 "Server-Timing": f"step;dur={(time.perf_counter() - started) * 1000:.3f}"})


@routes.delete("/v1/sessions/{session}")
async def close_session(request: web.Request) -> web.Response:
    request.app[SESSIONS].close(request.match_info["session"])
    return web.Response(status=204)


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux), to show a stage holds its span and not the model."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _market(request: web.Request) -> StageMarket:
    market = request.app.get(MARKET)
    if market is None:
        raise NotInMarket("this stage serves no market (started without --aggregator): it commits nothing")
    return market


@routes.post("/v1/commit")
async def commit(request: web.Request) -> web.Response:
    """The verifier asks for this stage's commitment to a job: {"shards": {shard: session id, or null for a check}}."""
    market = _market(request)
    try:
        message = SignedMessage.from_json(await request.json())
    except ValueError as exc:
        raise MessageFormatError(f"a commit request is a signed message: {exc}") from exc
    market.authorize(message, "stage_commit")
    shards = message.body.get("shards")
    if not isinstance(shards, dict) or not shards or not all(
            key.isdigit() and int(key) < MAX_SHARDS and (value is None or isinstance(value, str)) for key, value in shards.items()):
        raise MessageFormatError(f"shards maps shard numbers (0-{MAX_SHARDS - 1}) to the session that served each, or null for a check")
    sessions = request.app[SESSIONS]
    digests = {int(shard): sessions.receipts_root(session) if session else market.check_digest(message.job, int(shard))
               for shard, session in shards.items()}
    return web.json_response((await market.commit(message.job, digests)).to_json())


@routes.post("/v1/recompute")
async def recompute(request: web.Request) -> web.Response:
    data = await _octets(request)
    check = _check_request(request, data)
    output = await _compute(request, request.app[SESSIONS].recompute, data)
    if check is not None:  # a check the market pays for: kept, to be committed with the rest of this job's work
        request.app[MARKET].note_check(check.job, check.body["shard"], activations.sha256(output))
    return web.Response(body=output, content_type=OCTETS)


def _check_request(request: web.Request, data: bytes) -> SignedMessage | None:
    header = request.headers.get(CHECK_HEADER)
    if header is None:
        return None
    try:
        message = SignedMessage.from_json(json.loads(base64.b64decode(header, validate=True)))
    except (binascii.Error, ValueError) as exc:
        raise MessageFormatError(f"{CHECK_HEADER} is base64 JSON of a signed message: {exc}") from exc
    _market(request).authorize(message, "stage_check")
    shard = message.body.get("shard")
    if not isinstance(shard, int) or not 0 <= shard < 256 or message.body.get("input_sha256") != activations.sha256(data).hex():
        raise MessageFormatError("a check names a shard 0-255 and the sha256 of the bytes it checks")
    return message


@routes.post("/v1/trace")
async def trace(request: web.Request) -> web.Response:
    layers = await _compute(request, request.app[SESSIONS].trace, await _octets(request))
    return web.Response(body=b"".join(layers), content_type=OCTETS, headers={"X-Tessera-Layers": str(len(layers))})


@routes.get("/v1/models/{digest}/files/{name}")
async def model_file(request: web.Request) -> web.StreamResponse:
    store, digest, name = request.app[STORE], request.match_info["digest"], request.match_info["name"]
    if not SHA256_HEX.match(digest) or not FILE_NAME.match(name):
        return _error(400, "name_malformed", "a model digest is 64 hex digits and a file name a plain name")
    manifest = store.manifest(digest)
    if name != MANIFEST and name not in manifest.files:
        return _error(404, "file_not_found", f"model {digest} has no file {name}")
    return web.FileResponse(store.model_dir(digest) / name)


@routes.get("/v1/fragments/{sha256}")
async def fragment(request: web.Request) -> web.StreamResponse:
    store, sha = request.app[STORE], request.match_info["sha256"]
    if not SHA256_HEX.match(sha):
        return _error(400, "name_malformed", "a fragment is named by its sha256 in lowercase hex")
    path = store.fragment_path(sha)
    if not path.is_file():
        return _error(404, "fragment_not_held", f"this node does not hold fragment {sha}")
    return web.FileResponse(path, headers={"Content-Type": OCTETS})


async def _resources(app: web.Application) -> AsyncIterator[None]:
    app[COMPUTE] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")

    async def sweep() -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            if expired := app[SESSIONS].expire():
                log.info("dropped %d idle sessions", expired)

    sweeper = asyncio.create_task(sweep())
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    app[COMPUTE].shutdown(wait=True)


def create_stage_app(sessions: StageSessions, store: FragmentStore, market: StageMarket | None = None) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[SESSIONS] = sessions
    app[STORE] = store
    if market is not None:
        app[MARKET] = market
    app.add_routes(routes)
    app.cleanup_ctx.append(_resources)
    return app
