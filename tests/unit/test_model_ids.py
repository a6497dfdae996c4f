"""Readable model ids: what the OpenAI API's `model` names, from what providers announce."""

from marketplace.model_ids import model_ids, readable_id

WHOLE, PIPELINED, OTHER = "a" * 64, "b" * 64, "c" * 64


def test_a_model_is_known_by_the_name_its_providers_agree_on():
    assert model_ids({WHOLE: {"smollm2-135m-instruct"}, OTHER: {"minilm"}}) == {
        "smollm2-135m-instruct": WHOLE, "minilm": OTHER}


def test_a_model_named_nothing_or_two_ways_is_known_by_its_digest():
    assert model_ids({WHOLE: {WHOLE}, OTHER: {"x", "y"}}) == {WHOLE: WHOLE, OTHER: OTHER}


def test_a_name_two_models_give_names_neither():
    # The whole model and its pipeline both announced as one name: a request by that name could reach either.
    assert model_ids({WHOLE: {"smollm2"}, PIPELINED: {"smollm2"}, OTHER: {"minilm"}}) == {
        WHOLE: WHOLE, PIPELINED: PIPELINED, "minilm": OTHER}


def test_readable_ids_are_lowercase_and_bounded():
    assert readable_id("SmolLM2 135M Instruct!") == "smollm2-135m-instruct"
    assert readable_id("???") == "model" and len(readable_id("x" * 100)) == 64
