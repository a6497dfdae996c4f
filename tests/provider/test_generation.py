"""Generation and checks on real transformers models loaded from disk: batches, prefixes, sampling, lies."""

from __future__ import annotations

import pytest
import torch

from marketplace.digests import DecodingParams, input_digest
from marketplace.verification import CheckOutcome, check_generation
from provider.errors import InputTooLarge, TaskMalformed
from provider.generation import CheckRequest, GenerationRequest, check_batch, generate_batch

PROMPTS = ["The quick brown fox", "Agents pay per request and", "zero one two three", "A model reads a prompt"]
SHARED = "Tessera is a marketplace for inference settled on Solana. Agents pay per request; providers stake and run "
GREEDY = DecodingParams(max_new_tokens=10)
SAMPLED = DecodingParams(max_new_tokens=10, temperature=0.8, top_p=0.9, seed=42)


def requests(prompts, params):
    return [GenerationRequest(p, params, input_digest({"prompt": p})) for p in prompts]


@pytest.fixture(params=["gpt2", "llama"])
def lm(request):
    return request.getfixturevalue(request.param)


def test_a_batch_generates_what_single_runs_generate(lm):
    mixed = [GenerationRequest(p, GREEDY if i % 2 else SAMPLED, input_digest({"prompt": p})) for i, p in enumerate(PROMPTS)]
    batch = generate_batch(lm, mixed)
    singles = [generate_batch(lm, [r])[0] for r in mixed]
    assert [g.token_ids for g in batch] == [g.token_ids for g in singles]
    assert all(len(g.token_ids) == len(g.top2_gaps) and all(gap >= 0 for gap in g.top2_gaps) for g in batch)


def test_greedy_matches_transformers_generate(lm):
    [ours] = generate_batch(lm, requests(PROMPTS[:1], GREEDY))
    encoded = lm.tokenizer(PROMPTS[0], return_tensors="pt")
    with torch.inference_mode():
        theirs = lm.model.generate(**encoded, max_new_tokens=10, do_sample=False, pad_token_id=lm.tokenizer.eos_token_id)
    assert ours.token_ids == theirs[0, encoded["input_ids"].shape[1]:].tolist()


def test_a_shared_prefix_is_run_once_and_changes_nothing(lm):
    prompts = [SHARED + ending for ending in ("shards.", "models on CPUs.", "jobs for agents today.")]
    together = generate_batch(lm, requests(prompts, GREEDY))
    alone = [generate_batch(lm, requests([p], GREEDY))[0] for p in prompts]
    assert [g.token_ids for g in together] == [g.token_ids for g in alone]


def test_seeded_sampling_is_reproducible_and_depends_on_the_seed(lm):
    first = generate_batch(lm, requests(PROMPTS, SAMPLED))
    again = generate_batch(lm, requests(PROMPTS, SAMPLED))
    other = generate_batch(lm, requests(PROMPTS, DecodingParams(10, 0.8, 0.9, seed=43)))
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    assert [g.token_ids for g in first] != [g.token_ids for g in other]


@pytest.mark.parametrize("params", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_a_teacher_forced_check_accepts_honest_tokens_and_catches_lies(lm, params):
    [honest] = generate_batch(lm, requests(PROMPTS[:1], params))
    digest = input_digest({"prompt": PROMPTS[0]})

    def judge(claimed):
        [checks] = check_batch(lm, [CheckRequest(PROMPTS[0], params, digest, claimed)])
        return check_generation(claimed, checks)

    assert judge(honest.token_ids).outcome is CheckOutcome.CONSISTENT
    lie = list(honest.token_ids)
    lie[3] = (lie[3] + 1) % 100
    verdict = judge(lie)
    assert verdict.outcome is CheckOutcome.INCONSISTENT and verdict.first_divergence == 3
    if len(honest.token_ids) == params.max_new_tokens and lm.tokenizer.eos_token_id not in honest.token_ids:
        assert judge(honest.token_ids[:-2]).outcome is CheckOutcome.INCONSISTENT  # stopped early
    assert judge(honest.token_ids + [honest.token_ids[0]]).outcome is CheckOutcome.INCONSISTENT  # too long


def test_checks_in_a_batch_equal_checks_alone(lm):
    generated = generate_batch(lm, requests(PROMPTS, GREEDY))
    checks = [CheckRequest(p, GREEDY, input_digest({"prompt": p}), g.token_ids) for p, g in zip(PROMPTS, generated)]
    together, alone = check_batch(lm, checks), [check_batch(lm, [c])[0] for c in checks]
    assert [[c.argmax for c in rows] for rows in together] == [[c.argmax for c in rows] for rows in alone]
    gaps = lambda rows: [c.top2_gap for c in rows]  # noqa: E731 - floats: equal to float32 noise
    assert all(gaps(a) == pytest.approx(gaps(b), abs=1e-4) for a, b in zip(together, alone))


def test_inputs_over_the_limit_and_bad_claims_are_refused(gpt2):
    with pytest.raises(InputTooLarge, match="exceed this node's limit"):
        generate_batch(gpt2, requests(["word " * 600], GREEDY))
    with pytest.raises(TaskMalformed, match="claimed token ids"):
        check_batch(gpt2, [CheckRequest("hi", GREEDY, b"", [10**9])])
