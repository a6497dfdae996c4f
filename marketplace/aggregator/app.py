"""The aggregator's aiohttp application: routes parse, call the service, map errors to HTTP.

Resources (database engine, chain client, the conductor loop) live in
`cleanup_ctx`, opened with the app and closed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator

from aiohttp import web
from solders.keypair import Keypair
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from marketplace.aggregator import openai_routes
from marketplace.aggregator.appkeys import CONFIG, QUOTE_LIMIT, SERVICE
from marketplace.aggregator.bodies import read_json
from marketplace.aggregator.channel_watch import ChannelWatch
from marketplace.aggregator.conductor import Conductor
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.db import create_engine, migrate, sessions
from marketplace.aggregator.errors import AggregatorError, BadRequest, NotFound
from marketplace.aggregator.openai_api import error_object
from marketplace.aggregator.openapi import openapi_document
from marketplace.aggregator.rate_limit import RateLimit
from marketplace.aggregator.reports import job_report, metrics_text
from marketplace.aggregator import dashboard
from marketplace.aggregator.service import Aggregator
from marketplace.aggregator.signals import fired
from marketplace.chain.client import TesseraChain, pubsub_url
from marketplace.errors import KeypairError, MessageError, MessageFormatError
from marketplace.keys import load_keypair
from marketplace.messages import SignedMessage

log = logging.getLogger("tessera.aggregator")


def _error(status: int, code: str, message: str, param: str | None = None) -> web.Response:
    """OpenAI's error object, on every route: agents' frameworks read it."""
    return web.json_response(error_object(status, code, message, param), status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AggregatorError as exc:
        response = _error(exc.status, exc.code, str(exc), getattr(exc, "param", None))
        if exc.retry_after is not None:  # HTTP's delay is whole seconds
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    except MessageFormatError as exc:
        return _error(400, exc.code, str(exc))
    except MessageError as exc:
        return _error(401, exc.code, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "body_too_large", "the body is larger than this aggregator accepts")
    except web.HTTPNotFound:
        return _error(404, "route_not_found", f"no route {request.path} (see /v1/openapi.json)")
    except web.HTTPMethodNotAllowed as exc:
        return _error(405, "method_not_allowed", f"{request.method} {request.path}: allowed {', '.join(sorted(exc.allowed_methods))}")
    except web.HTTPException:
        raise
    except OperationalError as exc:
        if "locked" not in str(exc.orig):
            raise
        log.warning("database busy on %s %s", request.method, request.path)
        response = _error(503, "busy", "the database is busy; nothing was changed by this request: retry")
        response.headers["Retry-After"] = "1"
        return response
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal error; nothing was changed by this request")


async def _signed(request: web.Request) -> SignedMessage:
    return SignedMessage.from_json(await read_json(request))


routes = web.RouteTableDef()


@routes.get("/v1/health")
async def health(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    async with service.sessions() as session:
        await session.execute(text("SELECT 1"))
    market = await service.market_account()
    return web.json_response({"status": "ok", "market": str(service.market), "jobs_created": market.jobs_created})


@routes.get("/")
async def dashboard_page(request: web.Request) -> web.Response:
    return web.Response(text=dashboard.page(), content_type="text/html")


@routes.get("/v1/dashboard")
async def dashboard_data(request: web.Request) -> web.Response:
    return web.json_response(await dashboard.snapshot(request.app[SERVICE]))


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


@routes.post("/v1/quotes")
async def quote(request: web.Request) -> web.Response:
    request.app[QUOTE_LIMIT].take(request.remote or "unknown")
    return web.json_response(await request.app[SERVICE].quote(await read_json(request)))


@routes.post("/v1/jobs")
async def submit_job(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].intake(await _signed(request)), status=201)


@routes.get("/v1/channels/{channel}")
async def get_channel(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].channels.report(request.match_info["channel"]))


@routes.get("/v1/jobs/{job}")
async def get_job(request: web.Request) -> web.Response:
    """With `revision` (from an earlier report) and `wait`, a long poll: answers once the job moved on.
    Outputs only for a signed read by the job's client or its providers; disputed shards' inputs and
    outputs are public, for audit."""
    service, job = request.app[SERVICE], request.match_info["job"]
    private = await service.may_read(job, request.headers.get("Authorization"))
    if "revision" in request.query:
        await service.wait_for_progress(job, request.query["revision"], service.wait_seconds(request.query.get("wait", 0)))
    return web.json_response(await job_report(service.sessions, job, private))


@routes.get("/v1/jobs/{job}/seed")
async def get_seed(request: web.Request) -> web.Response:
    report = await job_report(request.app[SERVICE].sessions, request.match_info["job"], private=False)
    if report["seed"] is None:
        raise NotFound("the seed is revealed once nothing more can be submitted (the job is over)", "seed_not_revealed")
    return web.json_response({"job": report["job"], "seed": report["seed"]})


@routes.post("/v1/jobs/{job}/results")
async def post_results(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].results.accept(request.match_info["job"], await _signed(request)))


@routes.post("/v1/jobs/{job}/progress")
async def post_progress(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].results.progress(request.match_info["job"], await _signed(request)))


@routes.post("/v1/providers")
async def register(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].register(await _signed(request)))


@routes.post("/v1/providers/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].heartbeat(await _signed(request)))


@routes.post("/v1/providers/leave")
async def leave(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].leave(await _signed(request)))


@routes.get("/v1/pipelines/{model}")
async def pipeline(request: web.Request) -> web.Response:
    """A pipelined model's spans (what a job's inputs name, once per request) and who holds each."""
    model = request.match_info["model"]
    if len(model) != 64 or not all(c in "0123456789abcdef" for c in model):
        raise BadRequest("a model digest is 64 lowercase hex characters")
    return web.json_response(await request.app[SERVICE].pipelines.describe(model))


@routes.get("/v1/jobs/{job}/shards/{shard:\\d+}/evidence/{owner}")
async def evidence(request: web.Request) -> web.Response:
    """A disputed pipeline stage's signed receipts and the activations they name, by the provider owner that served
    it: anyone may judge its slash again."""
    owner = request.match_info["owner"]
    if not 32 <= len(owner) <= 44 or not owner.isalnum():
        raise BadRequest("owner is a base58 address")
    return web.json_response(await request.app[SERVICE].pipelines.evidence(
        request.match_info["job"], int(request.match_info["shard"]), owner))


@routes.post("/v1/work")
async def work(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SERVICE].claim_work(await _signed(request)))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=await metrics_text(request.app[SERVICE].sessions), content_type="text/plain")


def _verifier(path) -> Keypair:
    try:
        return load_keypair(path)
    except KeypairError as exc:
        raise SystemExit(f"the verifier keypair: {exc}") from exc


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    await migrate(config.db_url, config.db_schema)
    engine = create_engine(config.db_url, config.db_schema)
    chain = TesseraChain(config.rpc_url)
    service = Aggregator(config, sessions(engine), chain, _verifier(config.keypair))
    app[SERVICE] = service
    conductor = Conductor(service)

    async def conduct() -> None:
        while True:
            woken = service.activity.mark()
            try:
                await conductor.step()
            except Exception:  # a failed pass is retried; the loop must not die
                log.exception("conductor pass failed")
            service.progress.fire()
            await fired(woken, config.tick)  # activity starts the next pass at once; claim expiry and deadlines wait for the tick

    channels = service.channels
    watch = ChannelWatch(config.pubsub_url or pubsub_url(config.rpc_url), channels.views, channels.decoded)
    tasks = [asyncio.create_task(conduct()), asyncio.create_task(watch.run())]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await service.pipelines.close()
    await chain.close()
    await engine.dispose()


def create_app(config: AggregatorConfig) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=config.max_body)
    app[CONFIG] = config
    app[QUOTE_LIMIT] = RateLimit(config.quote_rate, config.quote_burst)
    app.add_routes(routes)
    app.add_routes(openai_routes.routes)
    app.cleanup_ctx.append(_resources)
    return app
