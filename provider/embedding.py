"""Sentence embeddings with encoders, in length-sorted micro-batches, on the digest grid.

Vectors are pooled as the model's sentence-transformers config says; the
digest covers them on a grid (marketplace.digests.EMBEDDING_QUANTUM). A
float32 component within NEAR_BOUNDARY of a rounding boundary could round
either way on another machine, so such a vector is computed again in
float64, whose rounding is the same everywhere. Otherwise the float32
vector rounds as the float64 one would, so every run has the same digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from marketplace.digests import EMBEDDING_QUANTUM
from provider.errors import InputTooLarge, TaskMalformed
from provider.models import LoadedModel

NEAR_BOUNDARY = 2.5e-7  # float32 differs from float64 by up to ~1.3e-7 here (MiniLM, threads, batch shapes)
# Padded tokens per forward pass. Inputs run sorted by length, as sentence-transformers' encode does, so
# little compute goes to padding; on 2 CPU threads passes of ~1k tokens beat one padded batch by ~20%.
MICRO_BATCH_TOKENS = 1024


@dataclass(frozen=True)
class Embedding:
    vector: list[float]
    exact: bool  # computed in float64 because a component sat near a rounding boundary


def _pool(lm: LoadedModel, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if lm.pooling.mode == "cls":
        pooled = states[:, 0]
    else:
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled, dim=-1) if lm.pooling.normalize else pooled


def _forward(lm: LoadedModel, model, encoded: dict) -> torch.Tensor:
    return _pool(lm, model(**encoded).last_hidden_state, encoded["attention_mask"]).double()


def micro_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Positions grouped longest first, each group padded to at most `budget` tokens (a longer input stays alone)."""
    groups: list[list[int]] = []
    for position in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if groups and (len(groups[-1]) + 1) * lengths[groups[-1][0]] <= budget:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def tokenize(lm: LoadedModel, texts: Sequence[str]) -> dict[str, list[list[int]]]:
    """Unpadded token ids (and masks) per text, refusing empty or over-long inputs."""
    if not all(texts):
        raise TaskMalformed("an embedding input must not be empty")
    encoded = lm.tokenizer(list(texts))
    longest = max(len(ids) for ids in encoded["input_ids"])
    if longest > lm.max_input_tokens:
        raise InputTooLarge(f"{longest} tokens exceed this node's limit of {lm.max_input_tokens} for model {lm.name}")
    return dict(encoded)


def _embed_rows(lm: LoadedModel, model, encoded: dict[str, list[list[int]]], rows: Sequence[int]) -> torch.Tensor:
    """Vectors of `rows` (in that order), run in length-sorted micro-batches."""
    vectors: list[torch.Tensor | None] = [None] * len(rows)
    for group in micro_batches([len(encoded["input_ids"][r]) for r in rows], MICRO_BATCH_TOKENS):
        chosen = {name: [values[rows[g]] for g in group] for name, values in encoded.items()}
        padded = dict(lm.tokenizer.pad(chosen, return_tensors="pt"))
        for g, vector in zip(group, _forward(lm, model, padded)):
            vectors[g] = vector
    return torch.stack(vectors)


@torch.inference_mode()
def embed_batch(lm: LoadedModel, texts: Sequence[str]) -> list[Embedding]:
    encoded = tokenize(lm, texts)
    vectors = _embed_rows(lm, lm.model, encoded, range(len(texts)))
    scaled = vectors / EMBEDDING_QUANTUM
    distance = (0.5 - (scaled - scaled.round()).abs()) * EMBEDDING_QUANTUM  # to the nearest rounding boundary
    near = (distance < NEAR_BOUNDARY).any(dim=-1).nonzero().flatten().tolist()
    if near:
        vectors[near] = _embed_rows(lm, lm.exact(), encoded, near)
    return [Embedding(row.tolist(), i in near) for i, row in enumerate(vectors)]
