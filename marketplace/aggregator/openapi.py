"""The OpenAPI document the aggregator serves at /v1/openapi.json."""

from __future__ import annotations

from marketplace.chain.accounts import MAX_SHARDS
from marketplace.vocabulary import KINDS

SIGNED = {"$ref": "#/components/schemas/SignedMessage"}
ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, body: dict | None = None, ok: str = "200") -> dict:
    op = {"summary": summary, "responses": {ok: {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
                                            "4XX": ERROR}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _query(name: str, kind: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}}


JOB = {"name": "job", "in": "path", "required": True, "description": "the Job account's address",
       "schema": {"type": "string", "pattern": "^[1-9A-HJ-NP-Za-km-z]{32,44}$"}}


MODEL_DIGEST = {"name": "model", "in": "path", "required": True, "description": "a model digest",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}


OPENAI_PAID = ("OpenAI API, answered with {}. Without `PAYMENT-SIGNATURE`: 402 and `PAYMENT-REQUIRED` (x402 v2, "
               "base64 JSON: scheme tessera-channel, network, amount, the quote in `extra`); with a voucher for it: "
               "the answer, `PAYMENT-RESPONSE` and `X-Tessera-Job`. Unsupported parameters: 400 naming the parameter")


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tessera aggregator", "version": "1", "description":
                 "Quotes, job intake, provider work and results, verification reports. Messages that act for a "
                 "participant are signed with their Solana key (Ed25519), with a nonce, an expiry and, where a job "
                 "is concerned, the job's address."},
        "paths": {
            "/v1/health": {"get": _op("Liveness, database and chain reachability")},
            "/v1/dashboard": {"get": _op("Live jobs, providers (stake, reputation), shards per second, verification outcomes; "
                                         "what the page at / shows")},
            "/v1/quotes": {"post": _op("Price, sampling rate, deadline and a committed sampling seed for a job", {
                "type": "object", "required": ["model_digest", "shard_count"], "properties": {
                    "model_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "shard_count": {"type": "integer", "minimum": 1, "maximum": MAX_SHARDS},
                    "kind": {"enum": list(KINDS)}}, "additionalProperties": False})},
            "/v1/jobs": {"post": _op("Submit a job with its shard inputs (signed, kind `job`): one its client created on chain "
                                     "{job, kind, params, inputs}, or one a payment channel pays for {job_id, seed_commitment, kind, "
                                     "params, inputs, voucher}, signed by the channel's authorizer; this aggregator claims the voucher, "
                                     "which opens the job on chain (402 when the voucher does not pay for it)", SIGNED, "201")},
            "/v1/channels/{channel}": {"parameters": [{**JOB, "name": "channel", "description": "the Channel account's address"}],
                                       "get": _op("A payment channel: what it holds and has paid, and the requests served on its vouchers")},
            "/v1/jobs/{job}": {"parameters": [JOB], "get": {**_op("Status, verified outputs and the verification report; with `revision` (from "
                                             "a report) and `wait` (seconds), a long poll that answers once the job moved on"),
                                       "parameters": [_query("revision", "string"),
                                                      {**_query("wait", "number"), "schema": {"type": "number", "minimum": 0, "maximum": 3600}}]}},
            "/v1/jobs/{job}/seed": {"parameters": [JOB], "get": _op("The sampling seed, once settlement revealed it, for audit")},
            "/v1/jobs/{job}/results": {"parameters": [JOB], "post": _op("A provider's outputs and digests for its tasks, or `error` {code, message} to hand a task back (signed, kind `results`)", SIGNED)},
            "/v1/jobs/{job}/progress": {"parameters": [JOB], "post": _op("A primary provider's answers as it generates them, "
                                        "{partials: [{task, token_ids, text}]}, shown by streams before the results are "
                                        "verified (signed, kind `progress`; no nonce: a report only extends what is kept)", SIGNED)},
            "/v1/providers": {"post": _op("Register a staked provider's models and capacity (signed, kind `register`)", SIGNED)},
            "/v1/providers/heartbeat": {"post": _op("A node's sign of life while it runs long batches (signed, kind `heartbeat`)", SIGNED)},
            "/v1/providers/leave": {"post": _op("A node stopping: work placed on it and not claimed moves on (signed, kind `leave`)", SIGNED)},
            "/v1/work": {"post": _op("Long-poll for tasks (signed, kind `claim`)", SIGNED)},
            "/v1/pipelines/{model}": {"parameters": [{**MODEL_DIGEST, "name": "model"}],
                                      "get": _op("A pipelined model: its spans in order (a job's inputs name each, once per "
                                                 "request) and the live providers holding each (404 pipeline_not_found for a "
                                                 "whole model)")},
            "/v1/jobs/{job}/shards/{shard}/evidence/{owner}": {
                "parameters": [JOB, {"name": "shard", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
                               {**JOB, "name": "owner", "description": "the provider owner that served the stage"}],
                "get": _op("A disputed pipeline stage's evidence: its signed receipts, step sizes and the activations they "
                           "name (base64 float32), for anyone to judge its slash again")},
            "/v1/models": {"get": _op("OpenAI API: the models live providers serve, by readable id, each with its digest")},
            "/v1/models/{model}": {"parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
                                   "get": _op("OpenAI API: one model")},
            "/v1/chat/completions": {"post": _op(OPENAI_PAID.format("chat.completion (or, with `stream`, server-sent chunks as "
                                                                    "the answer is generated, verified after)"),
                                                 {"type": "object"})},
            "/v1/completions": {"post": _op(OPENAI_PAID.format("text_completion"), {"type": "object"})},
            "/v1/embeddings": {"post": _op(OPENAI_PAID.format("a list of embeddings, `float` or `base64`"), {"type": "object"})},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}},
        },
        "components": {"schemas": {
            "SignedMessage": {"type": "object", "required": ["kind", "signer", "nonce", "expires_at", "body", "signature"],
                              "properties": {"kind": {"type": "string"}, "signer": {"type": "string"},
                                             "job": {"type": ["string", "null"]}, "nonce": {"type": "string", "minLength": 16, "maxLength": 64},
                                             "expires_at": {"type": "integer"}, "body": {"type": "object"},
                                             "signature": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}},
        }},
    }
