"""Driving a model across stages: embed, send each stage the new tokens' hidden states, sample, repeat.

The driver holds the head fragment (embeddings, final norm, output head) and, per span, the holders that
serve it, best first. Each step sends only the new tokens' hidden states (the first step carries the
prompt) and keeps every boundary's bytes and every stage's signed receipt for the job's life: they are what
a check recomputes and what a stage is held to. When a stage fails mid-answer (connection lost, session
gone, a receipt that does not verify), the next holder of its span opens a session and rebuilds the cache
by replaying the recorded inputs in one prefill; the answer is the same, the caller sees a pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import torch

from marketplace.digests import DecodingParams
from marketplace.pipeline import activations
from marketplace.pipeline.activations import OCTETS, RECEIPT_HEADER
from marketplace.pipeline.checks import StageCheck, compare, first_divergent_layer
from marketplace.pipeline.errors import PipelineError, ReceiptInvalid, StageFull, StageUnavailable
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.receipts import StepReceipt, receipts_root
from provider.decoding import Rule, choose
from provider.pipeline.spans import HeadModel

log = logging.getLogger("tessera.driver")
class AnswerTainted(PipelineError):
    """A failed holder's earlier answers did not survive the check its replacement's replay made of them."""

    code = "answer_tainted"


# A holder that fails in any of these ways is left for the next one: connection lost, too slow, full, refusing,
# or answering with a receipt that does not verify.
FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, PipelineError)


@dataclass(frozen=True)
class StageRoute:
    span: Span
    holders: tuple[str, ...]  # base URLs of nodes serving the span, best first


@dataclass
class StageSession:
    """One session on one holder: the tokens it answered for and its receipts."""

    span: Span
    holder: str
    session: str
    stage: str  # the stage's public key
    first_token: int  # the first token whose output this session supplied
    tokens: int = 0
    replayed: int = 0  # tokens replayed into its cache when it took over from a failed holder
    receipts: list[StepReceipt] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)  # what it signed for, step by step: the evidence against it
    outputs: list[bytes] = field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0  # spent waiting on its steps: how fast the holder is
    stage_seconds: float = 0.0  # of which the stage says it computed (Server-Timing)
    failed: bool = False

    @property
    def commitment(self) -> bytes:
        return receipts_root(self.receipts)


@dataclass
class SpanRecord:
    """Every boundary of one span over the whole answer, whoever computed it."""

    span: Span
    inputs: list[bytes] = field(default_factory=list)  # per driver step
    outputs: list[bytes] = field(default_factory=list)
    sessions: list[StageSession] = field(default_factory=list)

    def input_bytes(self) -> bytes:
        return b"".join(self.inputs)

    def output_bytes(self) -> bytes:
        return b"".join(self.outputs)

    def session_at(self, token: int) -> StageSession:
        return next(s for s in self.sessions if s.first_token <= token < s.first_token + s.tokens)


@dataclass
class PipelineAnswer:
    token_ids: list[int]
    text: str
    prompt_tokens: int
    finish_reason: str  # stop | length
    spans: list[SpanRecord]

    def bytes_per_token_per_hop(self) -> float:
        hops = sum(s.bytes_in + s.bytes_out for r in self.spans for s in r.sessions)
        steps = max(len(self.token_ids) - 1, 1)
        prompt_bytes = sum(len(r.inputs[0]) + len(r.outputs[0]) for r in self.spans if r.inputs)
        return (hops - prompt_bytes) / steps / max(2 * len(self.spans), 1)


class PipelineDriver:
    def __init__(self, head: HeadModel, routes: Sequence[StageRoute], http: aiohttp.ClientSession,
                 step_timeout: float = 60.0) -> None:
        covered = [layer for route in routes for layer in range(route.span.first, route.span.end)]
        if covered != list(range(head.manifest.num_layers)):
            raise PipelineError(f"the routes' spans must cover layers 0-{head.manifest.num_layers - 1} once, in order")
        self.head, self.routes, self.http = head, list(routes), http
        self.timeout = aiohttp.ClientTimeout(total=step_timeout)

    async def generate(self, prompt_ids: list[int], params: DecodingParams, input_digest: bytes,
                       on_token: Callable[[int], Awaitable[None] | None] | None = None) -> PipelineAnswer:
        rule, eos = Rule(params, input_digest), self.head.eos_ids()
        max_length = len(prompt_ids) + params.max_new_tokens
        records = [SpanRecord(route.span) for route in self.routes]
        live: list[StageSession | None] = [None] * len(self.routes)
        tokens: list[int] = []
        new, position, finish = list(prompt_ids), 0, "length"
        try:
            for index in range(params.max_new_tokens):
                hidden = activations.encode(self.head.embed(new, position))
                for stage, (route, record) in enumerate(zip(self.routes, records)):
                    record.inputs.append(hidden)
                    hidden, live[stage] = await self._step(route, record, live[stage], hidden, position, max_length)
                    record.outputs.append(hidden)
                logits = self.head.logits(activations.decode(hidden, self.head.manifest.hidden_size))
                token, _ = choose(rule.scores(logits, index))
                tokens.append(token)
                if on_token is not None and (pending := on_token(token)) is not None:
                    await pending
                position += len(new)
                new = [token]
                if token in eos:
                    finish = "stop"
                    break
        finally:
            await asyncio.gather(*(self._close(s) for s in live if s is not None), return_exceptions=True)
        text = self.head.tokenizer.decode([t for t in tokens if t not in eos], skip_special_tokens=True)
        return PipelineAnswer(tokens, text, len(prompt_ids), finish, records)

    async def _step(self, route: StageRoute, record: SpanRecord, session: StageSession | None, hidden: bytes,
                    position: int, max_length: int) -> tuple[bytes, StageSession]:
        """One step of one span, failing over to the next holder (and replaying its cache) when one fails."""
        tried: list[str] = []
        while True:
            if session is None or session.failed:
                session = await self._take_over(route, record, position, max_length, tried)
            try:
                output = await self._send(session, len(session.receipts), hidden)
                session.tokens += len(hidden) // (4 * self.head.manifest.hidden_size)
                return output, session
            except FAILURES as exc:
                log.warning("stage %s (layers %s) failed at position %d: %s; failing over", session.holder,
                            route.span, position, exc)
                session.failed = True
                tried.append(session.holder)

    async def _take_over(self, route: StageRoute, record: SpanRecord, position: int, max_length: int,
                         tried: list[str]) -> StageSession:
        """A session on the next holder, its cache rebuilt from the recorded inputs before `position`."""
        earlier = record.inputs[:-1]  # the last input is the step being taken now
        for holder in [h for h in route.holders if h not in tried]:
            try:
                session = await self._open(route, holder, position, max_length)
            except FAILURES as exc:
                log.warning("holder %s of layers %s cannot open a session: %s", holder, route.span, exc)
                tried.append(holder)
                continue
            if earlier:
                replay = b"".join(earlier)
                try:
                    replayed = await self._send(session, 0, replay)
                except FAILURES as exc:
                    log.warning("holder %s of layers %s failed replaying: %s", holder, route.span, exc)
                    tried.append(holder)
                    continue
                session.replayed = position
                try:
                    self._check_replay(route, record, replayed)
                except AnswerTainted:
                    await self._close(session)
                    raise
            record.sessions.append(session)
            return session
        raise StageUnavailable(f"no holder of layers {route.span} could take the step at position {position} "
                               f"(tried {', '.join(tried) or 'none'})")

    def _check_replay(self, route: StageRoute, record: SpanRecord, replayed: bytes) -> None:
        """The replay recomputes what the failed holder answered: a free check of it. If they part, the tokens
        chosen so far rest on an answer nobody will commit to, and this answer is given up (driven again whole)."""
        hidden = self.head.manifest.hidden_size
        check = compare(activations.decode(b"".join(record.outputs), hidden), activations.decode(replayed, hidden))
        if not check.agrees:
            raise AnswerTainted(f"layers {route.span}: the failed holder's answers differ from the replay at token "
                                f"{check.worst_token} (relative error {check.worst_error:.1e}); the answer is driven again")

    async def _open(self, route: StageRoute, holder: str, position: int, max_length: int) -> StageSession:
        body = {"model": self.head.manifest.hex, "layers": str(route.span), "max_length": max_length}
        async with self.http.post(f"{holder}/v1/sessions", json=body, timeout=self.timeout) as response:
            answer = await response.json(content_type=None)
            if response.status == 429:
                raise StageFull(answer["error"]["message"])
            if response.status != 201:
                raise PipelineError(f"{holder} refused a session: {answer}")
        return StageSession(route.span, holder, answer["session"], answer["stage"], first_token=position)

    async def _send(self, session: StageSession, step: int, data: bytes) -> bytes:
        url = f"{session.holder}/v1/sessions/{session.session}/steps/{step}"
        started = time.perf_counter()
        async with self.http.post(url, data=data, headers={"Content-Type": OCTETS}, timeout=self.timeout) as response:
            if response.status != 200:
                raise PipelineError(f"{session.holder} answered step {step} with {response.status}: {await response.text()}")
            output = await response.read()
            receipt_header = response.headers.get(RECEIPT_HEADER, "")
            timing = response.headers.get("Server-Timing", "")
        receipt = StepReceipt.from_header(receipt_header, self.head.manifest.digest, session.session, step, session.span,
                                          activations.sha256(data), activations.sha256(output))
        if str(receipt.stage) != session.stage:
            raise ReceiptInvalid(f"step {step} was signed by {receipt.stage}, not the session's stage {session.stage}")
        if len(output) != len(data):
            raise ReceiptInvalid(f"{session.holder} answered {len(output)} bytes to {len(data)}")
        session.receipts.append(receipt)
        session.inputs.append(data)
        session.outputs.append(output)
        session.seconds += time.perf_counter() - started
        session.stage_seconds += _duration(timing)
        session.bytes_in += len(data)
        session.bytes_out += len(output)
        return output

    async def _close(self, session: StageSession) -> None:
        if not session.failed:
            async with self.http.delete(f"{session.holder}/v1/sessions/{session.session}", timeout=self.timeout):
                pass


@dataclass(frozen=True)
class SpanVerdict:
    span: Span
    checker: str
    check: StageCheck
    blamed: StageSession | None  # the session that answered the worst token, when the check failed
    divergent_layer: int | None = None  # model layer index where the referee saw the first difference


async def recompute(http: aiohttp.ClientSession, url: str, data: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A holder's output for a recorded sequence in one prefill (POST /v1/recompute)."""
    return (await _post_octets(http, f"{url}/v1/recompute", data, headers))[0]


async def trace(http: aiohttp.ClientSession, url: str, data: bytes, hidden_size: int) -> list[torch.Tensor]:
    """Every layer's output a holder computes over a recorded sequence (POST /v1/trace)."""
    body, headers = await _post_octets(http, f"{url}/v1/trace", data)
    try:
        layers = int(headers["X-Tessera-Layers"])
    except (KeyError, ValueError) as exc:
        raise PipelineError(f"{url} answered a trace without a layer count") from exc
    if layers < 1 or len(body) % layers:
        raise PipelineError(f"{url}'s trace of {len(body)} bytes does not split into {layers} layers")
    size = len(body) // layers
    return [activations.decode(body[i * size:(i + 1) * size], hidden_size) for i in range(layers)]


async def _post_octets(http: aiohttp.ClientSession, url: str, data: bytes,
                       headers: dict[str, str] | None = None) -> tuple[bytes, dict]:
    async with http.post(url, data=data, headers={"Content-Type": OCTETS, **(headers or {})}) as response:
        if response.status != 200:
            raise PipelineError(f"{url} answered {response.status}: {await response.text()}")
        return await response.read(), dict(response.headers)


async def check_span(http: aiohttp.ClientSession, record: SpanRecord, checker: str, hidden_size: int) -> SpanVerdict:
    """A second holder recomputes the span over the whole recorded sequence in one prefill and compares per token."""
    recomputed = await recompute(http, checker, record.input_bytes())
    check = compare(activations.decode(record.output_bytes(), hidden_size), activations.decode(recomputed, hidden_size))
    return SpanVerdict(record.span, checker, check, None if check.agrees else record.session_at(check.worst_token))


async def referee_span(http: aiohttp.ClientSession, verdict: SpanVerdict, record: SpanRecord, referee: str,
                       hidden_size: int) -> SpanVerdict:
    """After a failed check: the accused and a referee trace every layer over the recorded input; the first layer
    where they part is named. An accused that cannot answer is judged on the referee's recomputation alone."""
    data = record.input_bytes()
    referee_layers = await trace(http, referee, data, hidden_size)
    layer = None
    if verdict.blamed is not None:
        try:
            layer = first_divergent_layer(await trace(http, verdict.blamed.holder, data, hidden_size), referee_layers)
        except (aiohttp.ClientError, asyncio.TimeoutError, PipelineError) as exc:
            log.warning("the accused %s gave no trace: %s", verdict.blamed.holder, exc)
    return SpanVerdict(verdict.span, verdict.checker, verdict.check, verdict.blamed,
                       None if layer is None else record.span.first + layer)


def _duration(server_timing: str) -> float:
    """Seconds in a `Server-Timing: step;dur=<ms>` header (0 when absent or malformed)."""
    for part in server_timing.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "dur":
            try:
                return float(value) / 1000
            except ValueError:
                return 0.0
    return 0.0
