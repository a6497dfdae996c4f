"""Decoding parameters: one reading for the aggregator and the provider (the digest covers the typed values)."""

from __future__ import annotations

import pytest

from marketplace.digests import DecodingParams


def test_decoding_params_are_read_one_way_for_aggregator_and_provider():
    assert DecodingParams.parse({"max_new_tokens": "4", "temperature": 0}) == DecodingParams(4, 0.0, 1.0, None)
    assert DecodingParams.parse({"max_new_tokens": 4, "temperature": 0.7, "seed": 9}).seed == 9
    for bad in (None, [], {}, {"max_new_tokens": 0}, {"max_new_tokens": 4, "top_p": 0}, {"max_new_tokens": "x"},
                {"max_new_tokens": 4, "temperature": -1}, {"max_new_tokens": 4, "temperature": 0.5}):
        with pytest.raises(ValueError):
            DecodingParams.parse(bad)
