"""A real pretrained chat model: SmolLM2-135M-Instruct from GGUF, served as chat, checked by teacher forcing."""

from __future__ import annotations

import time

import pytest

from marketplace.digests import DecodingParams, generation_digest, input_digest
from marketplace.verification import CheckOutcome, check_digest
from provider.catalog import resolve
from provider.executor import Executor, Task
from provider.gguf import SOURCE_FILE
from provider.models import load_model, model_digest

pytestmark = pytest.mark.slow
QUESTION = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


def chat_task(task, lm, params, role="primary", claims=None, conversation=QUESTION):
    return Task.parse({"task": task, "job": "J", "shard": 0, "role": role, "kind": "chat", "model_digest": lm.hex,
                       "params": params, "input": conversation, "claims": claims, "deadline": 0})


def test_the_gguf_is_converted_once_and_named_by_its_catalog_name(smollm2):
    assert smollm2.directory.joinpath(SOURCE_FILE).exists() and smollm2.directory.joinpath("model.safetensors").exists()
    assert smollm2.name == "smollm2-135m-instruct"  # the catalog name: the OpenAI API's model id
    started = time.monotonic()
    again = load_model("smollm2-135m-instruct")  # from the cache: no dequantizing
    assert time.monotonic() - started < 20
    assert again.digest == smollm2.digest == model_digest(smollm2.directory)
    assert resolve("smollm2-135m-instruct").suffix == ".gguf"


@pytest.mark.parametrize("params", [
    {"max_new_tokens": 24, "temperature": 0.0, "top_p": 1.0, "seed": None},
    {"max_new_tokens": 24, "temperature": 0.7, "top_p": 0.95, "seed": 11},
], ids=["greedy", "sampled"])
def test_chat_answers_stops_at_end_of_turn_and_is_checked(smollm2, params):
    executor = Executor([smollm2])
    [answer] = executor.run([chat_task(1, smollm2, params)])
    tokens = answer.output["token_ids"]
    if params["temperature"] == 0:
        assert answer.output["text"] == "The capital of France is Paris."
    assert tokens[-1] == smollm2.tokenizer.eos_token_id and "<|im_end|>" not in answer.output["text"]
    assert answer.output["prompt_tokens"] > 10
    assert answer.digest == generation_digest(smollm2.digest, input_digest(QUESTION), DecodingParams(**params), tokens).hex()
    honest = {"owner": "A", "output": answer.output, "digest": answer.digest}
    wrong = list(tokens)
    wrong[2] = (wrong[2] + 1) % smollm2.tokenizer.vocab_size
    lie = {"owner": "B", "output": {**answer.output, "token_ids": wrong}, "digest": "00" * 32}
    checked, caught = executor.run([chat_task(2, smollm2, params, "replica", [honest]),
                                    chat_task(3, smollm2, params, "replica", [lie])])
    assert checked.digest == check_digest(bytes.fromhex(answer.digest), CheckOutcome.CONSISTENT).hex()
    assert caught.digest == check_digest(bytes(32), CheckOutcome.INCONSISTENT).hex()


def test_a_model_without_a_chat_template_hands_chat_back(gpt2):
    [declined] = Executor([gpt2]).run([chat_task(1, gpt2, {"max_new_tokens": 2})])
    assert declined.error["code"] == "model_missing" and "chat template" in declined.error["message"]
