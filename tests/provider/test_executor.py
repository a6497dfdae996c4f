"""Task payloads as the aggregator sends them, run on real models: digests, checks, hand-backs."""

from __future__ import annotations

import pytest

from marketplace.digests import DecodingParams, embedding_digest, generation_digest, input_digest
from marketplace.verification import CheckOutcome, check_digest
from provider.errors import TaskMalformed
from provider.executor import Executor, Task

PARAMS = {"max_new_tokens": 6, "temperature": 0.0, "top_p": 1.0, "seed": None}


def payload(task, model, role="primary", kind="generate", text="Agents pay per request", claims=None, shard=0):
    field = "prompt" if kind == "generate" else "text"
    return {"task": task, "job": "J", "shard": shard, "role": role, "kind": kind, "model_digest": model.hex,
            "params": PARAMS if kind == "generate" else {}, "input": {field: text}, "claims": claims, "deadline": 0}


def test_primary_replica_and_referee_generation(gpt2):
    executor = Executor([gpt2])
    [primary] = executor.run([Task.parse(payload(1, gpt2))])
    tokens = primary.output["token_ids"]
    assert primary.digest == generation_digest(gpt2.digest, input_digest({"prompt": "Agents pay per request"}),
                                               DecodingParams(**PARAMS), tokens).hex()
    honest = {"owner": "A", "output": primary.output, "digest": primary.digest}
    lie = {"owner": "B", "output": {"token_ids": [(t + 1) % 100 for t in tokens]}, "digest": "00" * 32}
    replica, referee = executor.run([Task.parse(payload(2, gpt2, "replica", claims=[honest])),
                                     Task.parse(payload(3, gpt2, "referee", claims=[honest, lie]))])
    assert replica.digest == check_digest(bytes.fromhex(primary.digest), CheckOutcome.CONSISTENT).hex()
    assert referee.digest is None and len(referee.output["checks"]) == 2
    [lie_checked] = executor.run([Task.parse(payload(4, gpt2, "replica", claims=[lie]))])
    assert lie_checked.digest == check_digest(bytes(32), CheckOutcome.INCONSISTENT).hex()


def test_embeddings_and_hand_backs(gpt2, minilm):
    executor = Executor([gpt2, minilm])
    results = executor.run([
        Task.parse(payload(1, minilm, kind="embed", text="a cat")),
        Task.parse(payload(2, gpt2, text="word " * 600)),  # over the model's 512 positions
        Task.parse(payload(3, gpt2, text="fine", shard=1)),
        Task.parse({**payload(4, gpt2), "model_digest": "ee" * 32}),
        Task.parse(payload(5, minilm, kind="generate")),  # an encoder cannot generate
    ])
    embedded, too_long, fine, unknown, wrong_kind = results
    assert embedded.digest == embedding_digest(minilm.digest, input_digest({"text": "a cat"}), embedded.output["vector"]).hex()
    assert too_long.error["code"] == "input_too_large" and too_long.digest is None
    assert fine.error is None and fine.output["token_ids"]
    assert unknown.error["code"] == "model_missing" and wrong_kind.error["code"] == "model_missing"


@pytest.mark.parametrize("broken", [
    {"task": 1}, {**payload(1, type("M", (), {"hex": "00" * 32})()), "kind": "train"},
    {**payload(1, type("M", (), {"hex": "00" * 32})(), "replica"), "claims": []},
    {**payload(1, type("M", (), {"hex": "00" * 32})()), "params": {"max_new_tokens": "many"}},
])
def test_malformed_tasks_are_refused(broken):
    with pytest.raises(TaskMalformed):
        Task.parse(broken)
