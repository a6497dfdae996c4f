"""The OpenAI API's shapes to and from jobs, and x402 payments, without a server."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace import x402 as wire
from marketplace.aggregator.errors import BadRequest
from marketplace.aggregator.openai_api import (ParameterError, answer_chunks, chat_response, completion_of, delta_chunk,
                                               embedding_response, error_object, opening_chunks, parse_chat,
                                               parse_completion, parse_embedding, streamable)
from marketplace.aggregator.x402 import parse_payment, payment_required
from marketplace.chain.vouchers import Voucher

USER = [{"role": "user", "content": "Hi"}]


def test_a_chat_request_becomes_a_chat_job_with_its_decoding():
    request = parse_chat({"model": "m", "messages": USER, "max_completion_tokens": 7, "temperature": 0, "seed": 3,
                          "stop": "\n", "stream": True, "stream_options": {"include_usage": True}})
    assert (request.kind, request.inputs, request.stops, request.stream, request.include_usage) == \
        ("chat", [{"messages": USER}], ("\n",), True, True)
    assert request.params == {"max_new_tokens": 7, "temperature": 0.0, "top_p": 1.0, "seed": 3}
    sampled = parse_chat({"model": "m", "messages": USER, "temperature": 0.7})
    assert sampled.params["seed"] is not None  # drawn here, so replicas reproduce the sampling


@pytest.mark.parametrize("body, param", [
    ({"model": "m", "messages": USER, "n": 2}, "n"),
    ({"model": "m", "messages": USER, "tools": []}, "tools"),
    ({"model": "m", "messages": USER, "logprobs": True}, "logprobs"),
    ({"model": "m", "messages": USER, "max_tokens": 0}, "max_completion_tokens"),
    ({"model": "m", "messages": USER, "temperature": 3}, "temperature"),
    ({"model": "m", "messages": USER, "top_p": 0}, "top_p"),
    ({"model": "m", "messages": USER, "stop": ["a"] * 5}, "stop"),
    ({"model": "m", "messages": USER, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
    ({"model": "m", "messages": []}, "messages"),
    ({"messages": USER}, "model"),
])
def test_what_tessera_does_not_do_is_refused_naming_the_parameter(body, param):
    with pytest.raises(ParameterError) as refused:
        parse_chat(body)
    assert refused.value.param == param and refused.value.status == 400


def test_completions_and_embeddings_parse():
    assert parse_completion({"model": "m", "prompt": ["one"], "max_tokens": 2}).inputs == [{"prompt": "one"}]
    with pytest.raises(ParameterError):
        parse_completion({"model": "m", "prompt": ["one", "two"]})
    embedding = parse_embedding({"model": "m", "input": ["a", "b"], "encoding_format": "base64"})
    assert embedding.inputs == [{"text": "a"}, {"text": "b"}] and embedding.base64
    with pytest.raises(ParameterError):
        parse_embedding({"model": "m", "input": "a", "encoding_format": "int8"})


def test_a_stop_sequence_cuts_the_text_and_finishes_with_stop():
    request = parse_completion({"model": "m", "prompt": "p", "max_tokens": 4, "stop": ["cd"]})
    assert completion_of({"text": "abcdef", "token_ids": [1, 2, 3, 4]}, request).text == "ab"
    full = completion_of({"text": "abef", "token_ids": [1, 2, 3, 4]}, request)
    assert (full.text, full.finish_reason) == ("abef", "length")
    assert completion_of({"text": "ab", "token_ids": [1, 2]}, request).finish_reason == "stop"  # ended before the limit


def test_responses_and_stream_chunks_have_openais_shape():
    request = parse_chat({"model": "m", "messages": USER, "max_tokens": 2, "stream": True, "stream_options": {"include_usage": True}})
    c = completion_of({"text": "yo", "token_ids": [5, 6], "prompt_tokens": 9}, request)
    response = chat_response(request, "m", "JOB", c, created=1)
    assert response["choices"][0]["message"] == {"role": "assistant", "content": "yo"}
    assert response["usage"] == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    chunks = opening_chunks(request, "m", "JOB", 1) + answer_chunks(request, "m", "JOB", c, 1)
    assert [list(ch["choices"][0]["delta"]) if ch["choices"] else None for ch in chunks] == [["role", "content"], ["content"], [], None]
    assert chunks[2]["choices"][0]["finish_reason"] == "length" and chunks[-1]["usage"]["total_tokens"] == 11
    packed = embedding_response(parse_embedding({"model": "m", "input": "a", "encoding_format": "base64"}), "m", [[0.5, -1.0]], 1)
    assert struct.unpack("<2f", base64.b64decode(packed["data"][0]["embedding"])) == (0.5, -1.0)
    assert error_object(402, "payment_required", "pay")["error"] == {"message": "pay", "type": "payment_required",
                                                                      "param": None, "code": "payment_required"}


def test_an_answer_in_progress_shows_only_what_cannot_change():
    assert streamable("Hello, wor", ()) == "Hello, wor"
    assert streamable("Hello\ufffd", ()) == "Hello"  # half a character: wait for its other half
    assert streamable("one two END three", ("END",)) == "one two "  # never past a stop sequence
    assert streamable("one two EN", ("END",)) == "one two "  # nor into what may become one
    request = parse_chat({"model": "m", "messages": USER, "max_tokens": 4, "stream": True})
    assert delta_chunk(request, "m", "JOB", 1, "He")["choices"][0]["delta"] == {"content": "He"}
    c = completion_of({"text": "Hello", "token_ids": [1, 2, 3]}, request)
    rest = answer_chunks(request, "m", "JOB", c, 1, sent="Hel")  # what was shown as generated is not sent again
    assert [ch["choices"][0]["delta"] for ch in rest] == [{"content": "lo"}, {}]
    assert [ch["choices"][0]["delta"] for ch in answer_chunks(request, "m", "JOB", c, 1, sent="Hello")] == [{}]
    completion = parse_completion({"model": "m", "prompt": "p", "max_tokens": 4, "stream": True})
    assert delta_chunk(completion, "m", "JOB", 1, "x")["choices"][0]["text"] == "x"


def test_a_payment_round_trips_and_malformed_ones_are_refused():
    quote = {"escrow": 204_000, "market": str(Pubkey.new_unique()), "job_id": 7, "seed_commitment": "ab" * 32,
             "price_per_shard": 100_000, "shard_count": 1, "expires_at": 10}
    required = payment_required("http://x/v1/completions", "completion", quote, wire.network("G" * 44), "P", 600)
    [accepted] = required["accepts"]
    assert (accepted["amount"], accepted["network"], accepted["maxTimeoutSeconds"]) == ("204000", "solana:" + "G" * 32, 600)
    authorizer = Keypair()
    voucher = Voucher.sign(authorizer, Pubkey.new_unique(), 3, 204_000)
    header = wire.encode({"x402Version": 2, "accepted": accepted, "payload": {"voucher": voucher.to_json()}})
    payment = parse_payment(header)
    assert (payment.job_id, payment.seed_commitment, payment.voucher) == (7, "ab" * 32, voucher)
    for bad in ("%%%", wire.encode({"x402Version": 1}), wire.encode({"x402Version": 2, "accepted": {"scheme": "exact"}, "payload": {}}),
                wire.encode({"x402Version": 2, "accepted": {**accepted, "extra": {"jobId": -1, "seedCommitment": "x"}},
                             "payload": {}})):
        with pytest.raises(BadRequest):
            parse_payment(bad)


def test_every_route_of_the_aggregator_is_in_its_openapi_document():
    import re

    from marketplace.aggregator.app import create_app
    from marketplace.aggregator.config import AggregatorConfig
    from marketplace.aggregator.openapi import openapi_document

    app = create_app(AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("unused.json"), market="11111111111111111111111111111111"))
    documented = set(openapi_document()["paths"])
    served = {re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", r.resource.canonical) for r in app.router.routes()
              if r.resource is not None and r.resource.canonical not in ("/", "/v1/openapi.json")}
    assert served <= documented, sorted(served - documented)
