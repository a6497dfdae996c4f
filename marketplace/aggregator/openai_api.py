"""The OpenAI API's shapes, translated to and from Tessera jobs. Pure: requests in, a job's kind, inputs and decoding
parameters out; a shard's output in, OpenAI's response objects and stream chunks out.

One request is one shard: a job of its own, or one of an epoch's. What the API has and Tessera does not do is refused with a 400 naming the
parameter, never ignored: several choices (`n` > 1), tools, logprobs, response formats, penalties.
"""

from __future__ import annotations

import base64
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.aggregator.errors import BadRequest
from marketplace.vocabulary import Kind

DEFAULT_MAX_TOKENS = 128
MAX_TOKENS = 512
CHAT_FIELDS = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop", "n",
               "stream", "stream_options", "user"}
COMPLETION_FIELDS = {"model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "n", "stream", "stream_options",
                     "user"}
EMBEDDING_FIELDS = {"model", "input", "encoding_format", "user"}


class ParameterError(BadRequest):
    """A 400 that names the offending parameter, as OpenAI's error object does."""

    def __init__(self, param: str, message: str, code: str = "invalid_parameter") -> None:
        super().__init__(message, code)
        self.param = param


@dataclass(frozen=True)
class ApiRequest:
    """What an OpenAI request asks of the market."""

    endpoint: str  # chat | completion | embedding
    model: str  # as the caller named it: a readable id or a digest
    kind: str
    inputs: list[dict]
    params: dict | None
    stream: bool = False
    include_usage: bool = False
    stops: tuple[str, ...] = ()
    base64: bool = False  # embeddings encoded as base64 little-endian float32


def _check_fields(body: Any, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise ParameterError("body", "the request body must be a JSON object")
    for field in body:
        if field not in allowed:
            raise ParameterError(field, f"`{field}` is not supported by this server", "unsupported_parameter")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ParameterError("model", "`model` is required: an id from /v1/models")
    return body


def _decoding(body: dict, max_tokens_fields: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    if body.get("n", 1) != 1:
        raise ParameterError("n", "only n = 1 is supported", "unsupported_value")
    given = [body[f] for f in max_tokens_fields if body.get(f) is not None]
    max_tokens = given[0] if given else DEFAULT_MAX_TOKENS
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS:
        raise ParameterError(max_tokens_fields[0], f"`{max_tokens_fields[0]}` must be an integer from 1 to {MAX_TOKENS}")
    temperature, top_p, seed = body.get("temperature", 1.0), body.get("top_p", 1.0), body.get("seed")
    if temperature is None:
        temperature = 1.0
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
        raise ParameterError("temperature", "`temperature` must be a number from 0 to 2 (0: greedy)")
    if top_p is None:
        top_p = 1.0
    if not isinstance(top_p, (int, float)) or isinstance(top_p, bool) or not 0 < top_p <= 1:
        raise ParameterError("top_p", "`top_p` must be a number in (0, 1]")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31):
        raise ParameterError("seed", "`seed` must be an integer from 0 to 2^31 - 1")
    if temperature > 0 and seed is None:
        seed = secrets.randbits(31)  # in the job, so a replica reproduces the sampling
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
        raise ParameterError("stop", "`stop` is a string or up to 4 non-empty strings")
    params = {"max_new_tokens": max_tokens, "temperature": float(temperature), "top_p": float(top_p), "seed": seed}
    return params, stops


def _streaming(body: dict) -> tuple[bool, bool]:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ParameterError("stream", "`stream` must be a boolean")
    options = body.get("stream_options")
    if options is not None and (not stream or not isinstance(options, dict) or set(options) - {"include_usage"}):
        raise ParameterError("stream_options", "`stream_options` is {include_usage} and needs `stream`")
    return stream, bool((options or {}).get("include_usage", False))


def parse_chat(body: Any) -> ApiRequest:
    body = _check_fields(body, CHAT_FIELDS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ParameterError("messages", "`messages` must be a non-empty list")
    plain = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant") or \
                set(message) - {"role", "content", "name"} or not isinstance(message.get("content"), str):
            raise ParameterError(f"messages[{i}]", "each message is {role: system|user|assistant, content: string}")
        plain.append({"role": message["role"], "content": message["content"]})
    params, stops = _decoding(body, ("max_completion_tokens", "max_tokens"))
    stream, usage = _streaming(body)
    return ApiRequest("chat", body["model"], Kind.CHAT, [{"messages": plain}], params, stream, usage, stops)


def parse_completion(body: Any) -> ApiRequest:
    body = _check_fields(body, COMPLETION_FIELDS)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise ParameterError("prompt", "`prompt` must be one non-empty string")
    params, stops = _decoding(body, ("max_tokens",))
    stream, usage = _streaming(body)
    return ApiRequest("completion", body["model"], Kind.GENERATE, [{"prompt": prompt}], params, stream, usage, stops)


def parse_embedding(body: Any) -> ApiRequest:
    body = _check_fields(body, EMBEDDING_FIELDS)
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not 1 <= len(texts) <= 256 or not all(isinstance(t, str) and t for t in texts):
        raise ParameterError("input", "`input` must be a non-empty string or a list of 1 to 256 of them")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise ParameterError("encoding_format", "`encoding_format` must be float or base64")
    return ApiRequest("embedding", body["model"], Kind.EMBED, [{"text": t} for t in texts], None,
                      base64=encoding == "base64")


@dataclass(frozen=True)
class Completion:
    """A generation shard's output as the API reports it."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # stop | length


def completion_of(output: dict, request: ApiRequest) -> Completion:
    text, tokens = output.get("text", ""), len(output.get("token_ids", []))
    cut = min((i for i in (text.find(s) for s in request.stops) if i >= 0), default=-1)
    if cut >= 0:
        return Completion(text[:cut], output.get("prompt_tokens", 0), tokens, "stop")
    reason = "length" if tokens >= request.params["max_new_tokens"] else "stop"
    return Completion(text, output.get("prompt_tokens", 0), tokens, reason)


def _usage(c: Completion) -> dict:
    return {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens}


def response_id(request: ApiRequest, job: str) -> str:
    return f"{'chatcmpl' if request.endpoint == 'chat' else 'cmpl'}-{job}"


def chat_response(request: ApiRequest, model_id: str, job: str, c: Completion, created: int | None = None) -> dict:
    return {"id": response_id(request, job), "object": "chat.completion", "created": created or int(time.time()),
            "model": model_id, "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                                            "logprobs": None, "finish_reason": c.finish_reason}],
            "usage": _usage(c)}


def completion_response(request: ApiRequest, model_id: str, job: str, c: Completion, created: int | None = None) -> dict:
    return {"id": response_id(request, job), "object": "text_completion", "created": created or int(time.time()),
            "model": model_id, "choices": [{"index": 0, "text": c.text, "logprobs": None, "finish_reason": c.finish_reason}],
            "usage": _usage(c)}


def _chunk(request: ApiRequest, model_id: str, job: str, created: int, part: dict) -> dict:
    """One chunk of a streamed answer: `part` is a chat delta or a completion's text."""
    chat = request.endpoint == "chat"
    choice = {"index": 0, ("delta" if chat else "text"): part if chat else part["text"], "logprobs": None, "finish_reason": None}
    chunk = {"id": response_id(request, job), "object": "chat.completion.chunk" if chat else "text_completion",
             "created": created, "model": model_id, "choices": [choice]}
    if request.include_usage:
        chunk["usage"] = None
    return chunk


def opening_chunks(request: ApiRequest, model_id: str, job: str, created: int) -> list[dict]:
    """What a stream sends at once, before any output: for chat, the role."""
    return [_chunk(request, model_id, job, created, {"role": "assistant", "content": ""})] if request.endpoint == "chat" else []


def streamable(partial: str, stops: Sequence[str]) -> str:
    """What of an answer still being generated may be shown: up to a stop sequence, and without the tail that could
    still grow into one or that ends in an incomplete character (a token that is half of one decodes as U+FFFD)."""
    cut = min((i for i in (partial.find(s) for s in stops) if i >= 0), default=-1)
    if cut >= 0:
        return partial[:cut]
    hold = max((len(s) - 1 for s in stops), default=0)
    return partial[:len(partial) - hold].rstrip("\ufffd")


def delta_chunk(request: ApiRequest, model_id: str, job: str, created: int, text: str) -> dict:
    """More of the answer, as it is generated (verified after)."""
    return _chunk(request, model_id, job, created, {"content": text} if request.endpoint == "chat" else {"text": text})


def answer_chunks(request: ApiRequest, model_id: str, job: str, c: Completion, created: int, sent: str = "") -> list[dict]:
    """The rest of a streamed answer once verified: the content not yet `sent` (which it begins with), the finish
    reason, then usage if asked."""
    rest = c.text[len(sent):]
    parts = [{"content": rest}, {}] if request.endpoint == "chat" else [{"text": rest}, {"text": ""}]
    chunks = [_chunk(request, model_id, job, created, part) for part in (parts if rest else parts[1:])]
    chunks[-1]["choices"][0]["finish_reason"] = c.finish_reason
    if request.include_usage:
        chunks.append({"id": response_id(request, job), "object": chunks[0]["object"], "created": created,
                       "model": model_id, "choices": [], "usage": _usage(c)})
    return chunks


def embedding_response(request: ApiRequest, model_id: str, vectors: list[list[float]], prompt_tokens: int) -> dict:
    def encode(vector: list[float]):
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if request.base64 else vector

    return {"object": "list", "model": model_id,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def model_object(model_id: str, digest: str, created: int) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "tessera", "digest": digest}


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "payment_required", 403: "permission_error",
               404: "not_found_error", 409: "conflict_error", 422: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable"}


def error_object(status: int, code: str, message: str, param: str | None = None) -> dict:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "api_error"), "param": param, "code": code}}
