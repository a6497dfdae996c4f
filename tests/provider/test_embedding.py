"""Embeddings with the real pretrained MiniLM: pooling, batching, digests on the grid."""

from __future__ import annotations

import pytest

from marketplace.digests import embedding_digest, input_digest, quantize
from provider import embedding
from provider.embedding import embed_batch, micro_batches
from provider.errors import InputTooLarge, TaskMalformed

TEXTS = [f"sentence {i}: " + "lorem ipsum dolor sit amet " * (i % 5 + 1) for i in range(24)]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_similar_sentences_are_closer_than_unrelated_ones(minilm):
    cat, kitten, finance = (e.vector for e in embed_batch(minilm, ["a cat sits on the mat", "a kitten sits on a rug",
                                                                    "quarterly bond yields rose sharply"]))
    assert cosine(cat, kitten) > cosine(cat, finance) + 0.2
    assert abs(cosine(cat, cat) - 1) < 1e-5  # normalized, as the model's modules.json says


@pytest.mark.parametrize("budget", [1024, 64])  # one pass, or many length-sorted micro-batches
def test_batched_digests_equal_single_digests(minilm, monkeypatch, budget):
    monkeypatch.setattr(embedding, "MICRO_BATCH_TOKENS", budget)
    batch = embed_batch(minilm, TEXTS)
    singles = [embed_batch(minilm, [t])[0] for t in TEXTS]
    digest = lambda text, e: embedding_digest(minilm.digest, input_digest({"text": text}), e.vector)  # noqa: E731
    assert [digest(t, e) for t, e in zip(TEXTS, batch)] == [digest(t, e) for t, e in zip(TEXTS, singles)]
    assert [quantize(e.vector) for e in batch] == [quantize(e.vector) for e in singles]


def test_bad_inputs_are_refused(minilm):
    with pytest.raises(InputTooLarge):
        embed_batch(minilm, ["word " * 2000])
    with pytest.raises(TaskMalformed):
        embed_batch(minilm, [""])


def test_micro_batches_sort_by_length_and_respect_the_token_budget():
    lengths = [5, 40, 12, 40, 7, 300]
    groups = micro_batches(lengths, budget=100)
    assert sorted(p for g in groups for p in g) == list(range(len(lengths)))
    assert groups[0] == [5]  # longer than the budget: alone
    for group in groups:
        assert [lengths[p] for p in group] == sorted((lengths[p] for p in group), reverse=True)
        assert len(group) == 1 or len(group) * lengths[group[0]] <= 100
