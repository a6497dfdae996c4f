"""Sentence embeddings with encoders, batched, on the digest grid.

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


def encode_texts(lm: LoadedModel, texts: Sequence[str]) -> dict:
    if not all(texts):
        raise TaskMalformed("an embedding input must not be empty")
    encoded = lm.tokenizer(list(texts))
    longest = max(len(ids) for ids in encoded["input_ids"])
    if longest > lm.max_input_tokens:
        raise InputTooLarge(f"{longest} tokens exceed this node's limit of {lm.max_input_tokens} for model {lm.name}")
    return dict(lm.tokenizer.pad(encoded, return_tensors="pt"))


@torch.inference_mode()
def embed_batch(lm: LoadedModel, texts: Sequence[str]) -> list[Embedding]:
    encoded = encode_texts(lm, texts)
    vectors = _forward(lm, lm.model, encoded)
    scaled = vectors / EMBEDDING_QUANTUM
    distance = (0.5 - (scaled - scaled.round()).abs()) * EMBEDDING_QUANTUM  # to the nearest rounding boundary
    near = (distance < NEAR_BOUNDARY).any(dim=-1).nonzero().flatten().tolist()
    if near:
        subset = {name: value[near] for name, value in encoded.items()}
        vectors[near] = _forward(lm, lm.exact(), subset)
    return [Embedding(row.tolist(), i in near) for i, row in enumerate(vectors)]
