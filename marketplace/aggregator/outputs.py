"""Shard inputs and provider outputs: validated at the boundary, digested the way providers digest them."""

from __future__ import annotations

import math
from typing import Any

from marketplace.aggregator.errors import BadRequest
from marketplace.digests import DecodingParams, embedding_digest, generation_digest
from marketplace.pipeline.routing import STAGE_FIELD
from marketplace.verification import TokenCheck
from marketplace.vocabulary import GENERATIVE, KINDS, Kind

ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 64
MAX_INPUT_CHARS = 16_384
MAX_NEW_TOKENS = 512
MAX_VECTOR = 8_192
TOKEN_ID_LIMIT = 2**32


def parse_params(kind: str, params: Any) -> DecodingParams | None:
    if kind == Kind.EMBED:
        if params not in (None, {}):
            raise BadRequest("embedding jobs take no decoding parameters")
        return None
    try:
        decoded = DecodingParams.parse(params)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if decoded.max_new_tokens > MAX_NEW_TOKENS or decoded.temperature > 10:  # this aggregator's own limits
        raise BadRequest(f"max_new_tokens must be 1 to {MAX_NEW_TOKENS}, temperature 0 to 10, top_p in (0, 1]")
    return decoded


def parse_input(kind: str, shard_input: Any) -> dict:
    if kind == Kind.CHAT:
        return parse_messages(shard_input)
    field = "prompt" if kind == Kind.GENERATE else "text"
    if not isinstance(shard_input, dict) or set(shard_input) != {field} or not isinstance(shard_input[field], str):
        raise BadRequest(f"each {kind} input is {{\"{field}\": string}}")
    if not 0 < len(shard_input[field]) <= MAX_INPUT_CHARS:
        raise BadRequest(f"{field} must be 1 to {MAX_INPUT_CHARS} characters")
    return shard_input


def parse_messages(shard_input: Any) -> dict:
    """A chat shard: {"messages": [{"role": system|user|assistant, "content": string}, ...]}, rendered by the
    serving model's own chat template."""
    messages = shard_input.get("messages") if isinstance(shard_input, dict) and set(shard_input) == {"messages"} else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES or not all(
            isinstance(m, dict) and set(m) == {"role", "content"} and m["role"] in ROLES and isinstance(m["content"], str)
            for m in messages):
        raise BadRequest(f"each chat input is {{\"messages\": [1 to {MAX_MESSAGES} {{\"role\": {'|'.join(ROLES)}, "
                         "\"content\": string}]}")
    if not 0 < sum(len(m["content"]) for m in messages) <= MAX_INPUT_CHARS:
        raise BadRequest(f"a conversation holds 1 to {MAX_INPUT_CHARS} characters")
    return shard_input


def result_digest(kind: str, model: bytes, shard_input: bytes, params: DecodingParams | None, output: Any) -> bytes:
    """The digest an honest provider computes for `output` on the input whose digest is `shard_input` (stored with
    the shard: not recomputed per result); BadRequest if the output is malformed."""
    if kind in GENERATIVE:
        tokens = output.get("token_ids") if isinstance(output, dict) else None
        if (not isinstance(tokens, list) or len(tokens) > params.max_new_tokens
                or not all(isinstance(t, int) and 0 <= t < TOKEN_ID_LIMIT for t in tokens)):
            raise BadRequest(f"a generation output is {{\"token_ids\": [at most {params.max_new_tokens} ids], \"text\": ...}}")
        return generation_digest(model, shard_input, params, tokens)
    vector = output.get("vector") if isinstance(output, dict) else None
    if not isinstance(vector, list) or not 0 < len(vector) <= MAX_VECTOR or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in vector):
        raise BadRequest(f"an embedding output is {{\"vector\": [1 to {MAX_VECTOR} finite numbers]}}")
    return embedding_digest(model, shard_input, vector)


def parse_digest(value: Any) -> str:
    """A result digest as providers send it: 64 lowercase hex characters (32 bytes)."""
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise BadRequest("digest must be 64 lowercase hex characters")
    return value


def parse_checks(output: Any, claims: int) -> list[list[TokenCheck]]:
    """A referee's teacher-forced checks: one list of positions per claim."""
    checks = output.get("checks") if isinstance(output, dict) else None
    if not isinstance(checks, list) or len(checks) != claims:
        raise BadRequest(f"a check output is {{\"checks\": [one list per claim, {claims} claims]}}")
    try:
        return [[TokenCheck(int(a), float(g), float(c)) for a, g, c in claim] for claim in checks]
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"each check is [argmax, top2_gap, claimed_gap]: {exc}") from exc


def parse_job_request(body: dict) -> tuple[str, list[dict]]:
    """A job request's kind and inputs; decoding parameters are refused here too, before any lookup."""
    kind = body.get("kind")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {KINDS}")
    parse_params(kind, body.get("params"))
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("inputs must be a non-empty list, one per shard")
    return kind, [_staged_input(kind, item) for item in inputs]


def _staged_input(kind: str, item: Any) -> dict:
    """An input, or for a pipelined model an input with the span of layers its shard runs ("stage": "10-19")."""
    if not isinstance(item, dict) or STAGE_FIELD not in item:
        return parse_input(kind, item)
    stage = item[STAGE_FIELD]
    if not isinstance(stage, str) or not 0 < len(stage) <= 16:
        raise BadRequest('a stage is a span of layers such as "10-19"')
    return {**parse_input(kind, {k: v for k, v in item.items() if k != STAGE_FIELD}), STAGE_FIELD: stage}
