"""Text generation and teacher-forced checks with causal LMs, batched.

Shards of one model run as one batch: left-padded prompts with explicit
position ids, one KV cache, finished rows dropped from it as they end. When
every prompt of a batch shares a long token prefix, the prefix is run once
and its KV cache shared. Tokens are chosen by decoding.Rule, so a batch, a
single run and a check agree token for token (near-ties are settled in
float64, see decoding.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from marketplace.digests import DecodingParams
from marketplace.verification import TokenCheck
from provider.decoding import NEAR_TIE, Rule, choose
from provider.errors import InputTooLarge, TaskMalformed
from provider.models import LoadedModel

PREFIX_MIN = 16  # tokens: a shorter shared prefix is not worth a separate pass
GAP_CAP = 1e9  # gaps are sent as JSON numbers; infinity (a token outside top-p) is capped


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    params: DecodingParams
    input_digest: bytes  # keys seeded sampling

    @property
    def rule(self) -> Rule:
        return Rule(self.params, self.input_digest)


@dataclass(frozen=True)
class Generation:
    token_ids: list[int]
    text: str
    top2_gaps: list[float]  # per generated token: how clear the choice was
    exact_decisions: int  # near-ties decided in float64
    prompt_tokens: int  # how long the prompt was, in tokens (usage, not digested)


def _eos_ids(lm: LoadedModel) -> set[int]:
    eos = getattr(lm.model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = lm.tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [] if eos is None else [eos])


def _pad_id(lm: LoadedModel) -> int:
    tokenizer = lm.tokenizer
    return next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)


def encode_prompt(lm: LoadedModel, prompt: str, new_tokens: int) -> list[int]:
    ids = lm.tokenizer(prompt)["input_ids"]
    if not ids:
        raise TaskMalformed("the prompt encodes to no tokens")
    if len(ids) + new_tokens > lm.max_input_tokens:
        raise InputTooLarge(f"{len(ids)} prompt tokens + {new_tokens} new tokens exceed this node's limit of "
                            f"{lm.max_input_tokens} for model {lm.name}")
    return ids


def _common_prefix(sequences: Sequence[list[int]]) -> int:
    first, length = sequences[0], min(len(s) for s in sequences) - 1  # every row keeps a token of its own
    for i in range(max(length, 0)):
        if any(s[i] != first[i] for s in sequences[1:]):
            return i
    return max(length, 0)


def _gap(value: float) -> float:
    return min(value, GAP_CAP)


class _ExactScorer:
    """The float64 model, for the rare near-tie."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm = lm

    def logits(self, ids: list[int]) -> torch.Tensor:
        return self.lm.exact()(input_ids=torch.tensor([ids]), use_cache=False).logits[0]


@torch.inference_mode()
def generate_batch(lm: LoadedModel, requests: Sequence[GenerationRequest],
                   on_token: Callable[[int, list[int]], None] | None = None) -> list[Generation]:
    """Generates every request; each result equals the one a single run gives. `on_token(row, tokens so far)` hears
    each new token as it is chosen (a stream's progress)."""
    prompts = [encode_prompt(lm, r.prompt, r.params.max_new_tokens) for r in requests]
    rules = [r.rule for r in requests]
    model, eos, pad, exact = lm.model, _eos_ids(lm), _pad_id(lm), _ExactScorer(lm)
    rows = len(prompts)

    prefix = _common_prefix(prompts) if rows > 1 else 0
    cache = None
    if prefix >= PREFIX_MIN:
        cache = model(input_ids=torch.tensor([prompts[0][:prefix]]), use_cache=True, logits_to_keep=1).cache
        cache.batch_repeat_interleave(rows)
    else:
        prefix = 0
    suffixes = [p[prefix:] for p in prompts]
    width = max(len(s) for s in suffixes)
    ids = torch.full((rows, width), pad, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for row, suffix in enumerate(suffixes):
        ids[row, width - len(suffix):] = torch.tensor(suffix)
        mask[row, width - len(suffix):] = 1
    attention = torch.cat([torch.ones((rows, prefix), dtype=torch.long), mask], dim=1)
    positions = prefix + (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=attention, position_ids=positions, cache=cache,
                use_cache=True, logits_to_keep=1)

    tokens: list[list[int]] = [[] for _ in prompts]
    gaps: list[list[float]] = [[] for _ in prompts]
    exact_decisions = [0] * rows
    active = list(range(rows))  # original row of each row still in the batch
    step = 0
    while True:
        logits = out.logits[:, -1, :].float()
        chosen = []
        for slot, row in enumerate(active):
            token, gap = choose(rules[row].scores(logits[slot], step))
            if gap < NEAR_TIE:
                token, gap = choose(rules[row].scores(exact.logits(prompts[row] + tokens[row])[-1], step))
                exact_decisions[row] += 1
            tokens[row].append(token)
            gaps[row].append(_gap(gap))
            chosen.append(token)
            if on_token is not None:
                on_token(row, tokens[row])
        keep = [slot for slot, row in enumerate(active)
                if tokens[row][-1] not in eos and len(tokens[row]) < requests[row].params.max_new_tokens]
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep)
            out.cache.batch_select_indices(index)
            attention, positions = attention[index], positions[index]
            active, chosen = [active[s] for s in keep], [chosen[s] for s in keep]
        attention = torch.cat([attention, torch.ones((len(active), 1), dtype=torch.long)], dim=1)
        positions = positions[:, -1:] + 1
        out = model(input_ids=torch.tensor(chosen)[:, None], attention_mask=attention, position_ids=positions,
                    cache=out.cache, use_cache=True)
        step += 1
    return [Generation(t, lm.tokenizer.decode(t, skip_special_tokens=True), g, e, len(p))
            for t, g, e, p in zip(tokens, gaps, exact_decisions, prompts)]


@dataclass(frozen=True)
class CheckRequest:
    prompt: str
    params: DecodingParams
    input_digest: bytes
    claimed: list[int]

    @property
    def rule(self) -> Rule:
        return Rule(self.params, self.input_digest)


@torch.inference_mode()
def check_batch(lm: LoadedModel, requests: Sequence[CheckRequest]) -> list[list[TokenCheck]]:
    """One teacher-forced pass over prompt + claimed tokens per request: a verdict per position.

    A claim that stops early without an end-of-sequence token, or runs on past
    one, gets a list of a different length than the claim: check_generation
    then finds it inconsistent."""
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    sequences, starts = [], []
    for request in requests:
        if not all(isinstance(t, int) and 0 <= t < vocab for t in request.claimed):
            raise TaskMalformed(f"claimed token ids must be in [0, {vocab})")
        prompt = encode_prompt(lm, request.prompt, len(request.claimed))
        sequences.append(prompt + request.claimed)
        starts.append(len(prompt) - 1)  # the position whose logits choose the first new token
    eos, pad, exact = _eos_ids(lm), _pad_id(lm), _ExactScorer(lm)
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence):] = torch.tensor(sequence)
        mask[row, width - len(sequence):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False).logits.float()

    results = []
    for row, request in enumerate(requests):
        claimed, offset = request.claimed, width - len(sequences[row]) + starts[row]
        row_logits, exact_logits = logits[row, offset:offset + len(claimed) + 1], None
        checks = []
        for position in range(len(claimed) + 1):
            scores = request.rule.scores(row_logits[position], position)
            argmax, gap = choose(scores)
            if gap < NEAR_TIE:
                if exact_logits is None:
                    exact_logits = exact.logits(sequences[row])[starts[row]:]
                scores = request.rule.scores(exact_logits[position], position)
                argmax, gap = choose(scores)
            claimed_gap = float(scores.max() - scores[claimed[position]]) if position < len(claimed) else 0.0
            checks.append(TokenCheck(argmax, _gap(gap), _gap(claimed_gap)))
        results.append(_judged_length(checks, claimed, eos, request.params.max_new_tokens))
    return results


def _judged_length(checks: list[TokenCheck], claimed: list[int], eos: set[int], max_new_tokens: int) -> list[TokenCheck]:
    """One check per claimed token when the claim ends where generation would; otherwise a different count."""
    stop = next((i for i, t in enumerate(claimed) if t in eos), None)
    if stop is not None and stop < len(claimed) - 1:
        return checks[:stop + 1]  # it ran on past an end-of-sequence token
    if len(claimed) > max_new_tokens:
        return checks[:max_new_tokens]
    if stop is None and len(claimed) < max_new_tokens:
        return checks  # it stopped early: the extra position shows what should have come next
    return checks[:len(claimed)]
