"""Loading models from disk through from_pretrained, and naming them by digest."""

from __future__ import annotations

import shutil

import pytest

from provider.errors import ModelLoadError
from provider.model_builder import build_causal_lm
from provider.models import ModelKind, load_model, model_digest
from tests.cli import TESSERA


def test_the_digest_is_the_files_not_the_path(tmp_path, gpt2_dir):
    copy = shutil.copytree(gpt2_dir, tmp_path / "elsewhere")
    assert model_digest(copy) == model_digest(gpt2_dir)
    (copy / "README.md").write_text("notes do not change outputs")
    assert model_digest(copy) == model_digest(gpt2_dir)


def test_other_weights_are_another_model(tmp_path, gpt2_dir):
    assert model_digest(build_causal_lm(tmp_path / "seed9", "gpt2", seed=9)) != model_digest(gpt2_dir)
    assert model_digest(build_causal_lm(tmp_path / "seed1", "gpt2", seed=1)) == model_digest(gpt2_dir)  # reproducible


def test_kinds(gpt2, llama, minilm):
    assert gpt2.kind is ModelKind.CAUSAL_LM and llama.kind is ModelKind.CAUSAL_LM
    assert minilm.kind is ModelKind.ENCODER and minilm.pooling.mode == "mean" and minilm.pooling.normalize


def test_directories_that_are_not_models_are_refused_clearly(tmp_path, gpt2_dir):
    with pytest.raises(ModelLoadError, match="not a directory"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path / "empty")
    broken = shutil.copytree(gpt2_dir, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(broken)


def test_the_node_refuses_to_start_with_a_model_it_cannot_load(tmp_path):
    import subprocess

    from marketplace.keys import write_keypair

    write_keypair(tmp_path / "owner.json")
    (tmp_path / "not-a-model").mkdir()
    done = subprocess.run([TESSERA, "provider", "run", "--keypair", str(tmp_path / "owner.json"),
                           "--model", str(tmp_path / "not-a-model"), "--aggregator", "http://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "model_unloadable" in done.stderr and "no config.json" in done.stderr


def test_a_node_asked_for_a_device_torch_does_not_see_refuses_to_start():
    import torch

    from provider.errors import DeviceUnavailable
    from provider.runner import use_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot happen here")
    with pytest.raises(DeviceUnavailable) as refused:
        use_device("cuda")
    assert refused.value.code == "device_unavailable"
    assert use_device(None) == "cpu" and torch.empty(1).device.type == "cpu"
