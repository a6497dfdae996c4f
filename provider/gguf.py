"""GGUF files as transformers models: dequantized once into a cache directory, loaded from there afterwards.

transformers reads GGUF (`from_pretrained(dir, gguf_file=...)`, with the `gguf` package) by dequantizing
every tensor, which takes tens of seconds; the result is saved as safetensors, config and tokenizer in
`<cache>/<sha256 of the GGUF file>`, so a later start loads that in a second or two. The model's digest is
then the cache directory's (what actually runs), the same on every node that converted the same file
with the same transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from marketplace.digests import file_sha256
from provider.errors import ModelLoadError

SOURCE_FILE = "gguf_source.json"  # which GGUF a cache came from; not digested (provider.models.IGNORED_FILES)


def default_cache() -> Path:
    return Path(os.environ.get("TESSERA_MODEL_CACHE", Path.home() / ".cache" / "tessera" / "models")).expanduser()


def converted(gguf: Path, cache: Path | None = None) -> Path:
    """The transformers directory of `gguf`, converting it first if no earlier start did."""
    gguf = gguf.expanduser().resolve()
    if not gguf.is_file():
        raise ModelLoadError(f"{gguf} is not a file")
    cache = (cache or default_cache()).expanduser()
    sha = file_sha256(gguf)
    target = cache / sha
    if (target / SOURCE_FILE).exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Converted aside, then renamed into place: a crash or a second node converting at once leaves no half-cache.
    scratch = Path(tempfile.mkdtemp(prefix=f".{sha[:16]}-", dir=cache))
    try:
        _convert(gguf, scratch)
        (scratch / SOURCE_FILE).write_text(json.dumps({"gguf": gguf.name, "sha256": sha}))
        try:
            scratch.rename(target)
        except OSError:  # another process finished first: its cache is as good as ours
            if not (target / SOURCE_FILE).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # transformers raises many kinds for a file it cannot read
        raise ModelLoadError(f"cannot read {gguf} as GGUF: {type(exc).__name__}: {exc}") from exc
    # A model loaded from GGUF refuses to save (it is marked quantized); its tensors are already float32:
    # copy them into a plain model of the same config.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
