"""Merkle commitments and result digests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.digests import DecodingParams, embedding_digest, embeddings_agree, generation_digest, input_digest
from marketplace.merkle import EMPTY_ROOT, merkle_proof, merkle_root, verify_proof


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=33), st.data())
def test_every_leaf_proves_against_the_root(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = merkle_root(leaves)
    assert verify_proof(root, leaves[index], merkle_proof(leaves, index))
    assert not verify_proof(root, leaves[index] + b"x", merkle_proof(leaves, index))


def test_roots_differ_for_different_lists():
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])
    assert merkle_root([b"a", b"b"]) != merkle_root([b"b", b"a"])
    assert merkle_root([]) == EMPTY_ROOT
    with pytest.raises(IndexError):
        merkle_proof([b"a"], 1)


def test_inner_node_cannot_pass_for_a_leaf():
    from marketplace.merkle import leaf_hash

    leaves = [b"a", b"b", b"c", b"d"]
    inner = leaf_hash(b"a") + leaf_hash(b"b")
    assert merkle_root([inner, b"cd"]) != merkle_root(leaves)


def test_generation_digest_binds_tokens_params_model_and_input():
    model, prompt = b"m" * 32, input_digest({"prompt": "hello"})
    greedy = DecodingParams(max_new_tokens=8)
    base = generation_digest(model, prompt, greedy, [1, 2, 3])
    assert base == generation_digest(model, prompt, DecodingParams(max_new_tokens=8), [1, 2, 3])
    assert base != generation_digest(model, prompt, greedy, [1, 2, 4])
    assert base != generation_digest(model, prompt, greedy, [1, 2])
    assert base != generation_digest(b"n" * 32, prompt, greedy, [1, 2, 3])
    assert base != generation_digest(model, input_digest({"prompt": "hello!"}), greedy, [1, 2, 3])
    assert base != generation_digest(model, prompt, DecodingParams(max_new_tokens=8, temperature=0.7, seed=1), [1, 2, 3])


def test_embedding_digest_ignores_noise_below_the_grid():
    model, text = b"m" * 32, input_digest("some text")
    vector = [0.1231, -0.5, 0.9991]
    noisy = [v + 1e-6 for v in vector]
    assert embedding_digest(model, text, vector) == embedding_digest(model, text, noisy)
    assert embedding_digest(model, text, vector) != embedding_digest(model, text, [0.2, -0.5, 0.9991])
    assert embeddings_agree(vector, noisy) and not embeddings_agree(vector, [0.2, -0.5, 0.9991])


def test_embedding_noise_on_a_grid_boundary_changes_the_digest_but_agrees_on_dispute():
    model, text = b"m" * 32, input_digest("some text")
    # 0.1235 is 123.5 quanta: any noise picks a side of the grid (providers settle such
    # components in float64, provider/embedding.py; a dispute compares raw vectors).
    assert embedding_digest(model, text, [0.1235 - 1e-6]) != embedding_digest(model, text, [0.1235 + 1e-6])
    assert embeddings_agree([0.1235 - 1e-6], [0.1235 + 1e-6])


def test_input_digest_is_canonical():
    assert input_digest({"a": 1, "b": [1, 2]}) == input_digest({"b": [1, 2], "a": 1})
    assert input_digest("é") != input_digest("e")
