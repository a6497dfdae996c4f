"""The OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings.

A request without payment is answered 402 with what pays for it (x402.py); paid by voucher, it becomes a job
claimed from the agent's channel (channels.py), or a shard of an epoch claimed when the epoch ends (epochs.py), and
is answered once its shard is decided, or streamed as the primary provider generates it and verified after. The
answer names the request (`X-Tessera-Job`): GET /v1/jobs/{job} tells how it was verified and settled, and what it
cost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from marketplace import x402 as wire
from marketplace.aggregator import x402
from marketplace.aggregator.appkeys import QUOTE_LIMIT, SERVICE
from marketplace.aggregator.bodies import read_json
from marketplace.aggregator.errors import Conflict, NotFound, Unavailable, Unprocessable
from marketplace.aggregator.openai_api import (ApiRequest, answer_chunks, chat_response, completion_of, completion_response,
                                               delta_chunk, embedding_response, error_object, model_object, opening_chunks,
                                               parse_chat, parse_completion, parse_embedding, streamable)
from marketplace.aggregator.reports import job_report, revision_reader
from marketplace.aggregator.service import Aggregator
from marketplace.aggregator.signals import RECHECK
from marketplace.chain import PROGRAM_ID
from marketplace.vocabulary import DECIDED, JobStatus, ShardStatus

JOB_HEADER = "X-Tessera-Job"
routes = web.RouteTableDef()


def _service(request: web.Request) -> Aggregator:
    return request.app[SERVICE]


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    models = await _service(request).served_models()
    return web.json_response({"object": "list", "data": [model_object(name, digest, created)
                                                         for name, (digest, created) in sorted(models.items())]})


@routes.get("/v1/models/{model}")
async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    models = await _service(request).served_models()
    if name not in models:
        raise NotFound(f"the model {name!r} is not served here (see /v1/models)", "model_not_found")
    digest, created = models[name]
    return web.json_response(model_object(name, digest, created))


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_chat)


@routes.post("/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_completion)


@routes.post("/v1/embeddings")
async def embeddings(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_embedding)


async def _answer(request: web.Request, parse: Callable[[object], ApiRequest]) -> web.StreamResponse:
    service = _service(request)
    api = parse(await read_json(request))
    models = await service.served_models()
    if api.model not in models:
        raise NotFound(f"the model {api.model!r} is not served here (see /v1/models)", "model_not_found")
    digest = models[api.model][0]
    inputs = await service.pipelines.staged(digest, api.inputs)  # a pipelined model: a shard per stage
    cluster = wire.network(await service.chain.genesis_hash())
    header = request.headers.get(wire.SIGNATURE_HEADER)
    if header is None:
        request.app[QUOTE_LIMIT].take(request.remote or "unknown")  # each 402 is a quote
        quote = await service.quote({"model_digest": digest, "shard_count": len(inputs), "kind": api.kind})
        required = x402.payment_required(str(request.url), f"{api.endpoint} by {api.model}", quote, cluster,
                                         str(PROGRAM_ID), service.config.job_lifetime)
        response = web.json_response(error_object(402, "payment_required", "this request is paid by voucher from a "
                                                  "Tessera payment channel: see the PAYMENT-REQUIRED header"), status=402)
        response.headers[wire.REQUIRED_HEADER] = wire.encode(required)
        return response
    payment = x402.parse_payment(header)
    paid = await service.channels.pay(payment.job_id, payment.seed_commitment, api.kind, inputs, api.params,
                                      payment.voucher, None, model=digest, streamed=api.stream)
    job = paid["job"]
    headers = {wire.RESPONSE_HEADER: wire.encode(x402.payment_response(
        paid["claim_signature"], cluster, paid["channel"], job, paid["voucher"], paid["escrow"], paid.get("epoch"))),
        JOB_HEADER: job}
    if api.stream:
        # Answers in progress are kept by the job and shard that run them: a request served in an epoch is its
        # epoch's shard (numbered provisionally while it runs).
        running = (paid["epoch"], paid["indices"][0]) if "epoch" in paid else (job, 0)
        return await _stream(request, service, api, job, headers, running)
    shards = await _decided(service, job)
    if api.endpoint == "embedding":
        outputs = [s["output"] for s in shards]
        result = embedding_response(api, api.model, [o["vector"] for o in outputs], sum(o.get("prompt_tokens", 0) for o in outputs))
    else:
        made = chat_response if api.endpoint == "chat" else completion_response
        result = made(api, api.model, job, completion_of(shards[0]["output"], api))
    return web.json_response(result, headers=headers)


def _decided_shards(job: str, report: dict) -> list[dict] | None:
    """The job's shards once every one is decided (verified, or served from the cache); None while some are not."""
    if all(s["status"] in DECIDED for s in report["shards"]):
        return report["shards"]
    if any(s["status"] == ShardStatus.REFUNDED for s in report["shards"]):
        raise Conflict(f"the answer shown as it was generated was found wrong when verified: job {job} charges nothing "
                       "for it, and its escrow goes back to the channel when the job closes", "answer_refunded")
    if report["status"] == JobStatus.FAILED or any(s["status"] == ShardStatus.FAILED for s in report["shards"]):
        raise Unavailable(f"no provider could serve job {job}; its escrow goes back to the channel when it closes",
                          "not_served")
    return None


async def _decided(service: Aggregator, job: str, on_wait: Callable[[], Awaitable[None]] | None = None,
                   running: str | None = None) -> list[dict]:
    """The job's decided shards; `on_wait` runs whenever the job or its answers in progress (kept by the job
    `running` them, `job` by default) change meanwhile."""
    deadline = asyncio.get_running_loop().time() + service.config.job_lifetime
    revision, look, read_revision = None, True, await revision_reader(service.sessions, job)
    while True:
        moved, grew = service.progress.mark(), service.results.partials.signal(running or job).mark()
        if look and await read_revision() != revision:  # the whole report only when the job moved
            report = await job_report(service.sessions, job, private=True)
            if (shards := _decided_shards(job, report)) is not None:
                return shards
            revision = report["revision"]
        if on_wait is not None:
            await on_wait()
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise Unprocessable(f"job {job} was not served before its deadline", "not_served")
        waiters = [asyncio.ensure_future(mark.wait()) for mark in (moved, grew)]
        try:  # whichever comes first: a conductor pass, this job's answer growing, or (other processes) a timeout
            await asyncio.wait(waiters, timeout=min(RECHECK, left), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        look = moved.is_set() or not grew.is_set()  # an answer that only grew needs no look at the job


async def _stream(request: web.Request, service: Aggregator, api: ApiRequest, job: str, headers: dict,
                  running: tuple[str, int]) -> web.StreamResponse:
    """Server-sent events: for chat the role at once; then the answer as the primary provider generates it (verified
    after, like any output); once verified, the rest of it, the finish reason, usage if asked, then [DONE]. If a check
    finds the answer shown wrong, an error event (`answer_refunded`) says the request is not charged; if the provider
    showed other tokens than it posted, an error event (`answer_replaced`) says the verified answer is on
    GET /v1/jobs/{job}. A client that goes away stops only its stream: the job runs on."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers})
    await response.prepare(request)
    created = int(time.time())
    sent = ""

    async def send(event: dict | str) -> None:
        await response.write(f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode())

    async def show_progress() -> None:
        nonlocal sent
        partial = service.results.partials.get(*running)
        shown = streamable(partial.text, api.stops) if partial is not None else ""
        if shown.startswith(sent) and len(shown) > len(sent):
            await send(delta_chunk(api, api.model, job, created, shown[len(sent):]))
            sent = shown

    try:
        for chunk in opening_chunks(api, api.model, job, created):
            await send(chunk)
        try:
            shards = await _decided(service, job, show_progress, running[0])
        except (Unavailable, Unprocessable, Conflict) as exc:
            await send(error_object(exc.status, exc.code, str(exc)))
        else:
            completion = completion_of(shards[0]["output"], api)
            if completion.text.startswith(sent):
                for chunk in answer_chunks(api, api.model, job, completion, created, sent):
                    await send(chunk)
            else:
                await send(error_object(409, "answer_replaced", f"the answer shown as it was generated was found wrong "
                                                                 f"when verified; the verified answer is on /v1/jobs/{job}"))
        await send("[DONE]")
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; the job is not the stream's: it runs on
    return response
