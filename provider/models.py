"""Models on disk: load them with `transformers` (never from a hub) and name them by digest.

A model's digest covers its config, weights and tokenizer files: the bytes
that decide its outputs. Jobs name models by this digest, so two providers
serving the same files agree on it without coordinating.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from marketplace.digests import file_sha256
from marketplace.model_ids import readable_id
from provider.catalog import MODELS, resolve
from provider.errors import ModelLoadError
from provider.gguf import converted

# Files whose bytes decide a model's outputs; READMEs and training metadata do not.
DIGESTED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken")
IGNORED_FILES = {"README.md", "data_config.json", "training_args.bin", ".gitattributes", "gguf_source.json"}
DEFAULT_MAX_INPUT_TOKENS = 512


class ModelKind(enum.Enum):
    CAUSAL_LM = "generate"  # text generation
    ENCODER = "embed"  # sentence embeddings


def model_digest(directory: Path) -> bytes:
    """sha256 over (relative path, sha256 of contents) of every file that decides outputs, sorted by path."""
    outer = hashlib.sha256(b"tessera/model/v1\0")
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in DIGESTED_SUFFIXES
                   and p.name not in IGNORED_FILES)
    if not any(p.name == "config.json" for p in files):
        raise ModelLoadError(f"{directory} has no config.json: not a transformers model directory")
    for path in files:
        outer.update(path.relative_to(directory).as_posix().encode() + b"\0" + bytes.fromhex(file_sha256(path)))
    return outer.digest()


@dataclass
class Pooling:
    """How an encoder's token states become one vector (sentence-transformers' 1_Pooling + Normalize)."""

    mode: str = "mean"  # mean | cls
    normalize: bool = True

    @classmethod
    def read(cls, directory: Path) -> Pooling:
        pooling, normalize = cls(), True
        config = directory / "1_Pooling" / "config.json"
        if config.exists():
            settings = json.loads(config.read_text())
            pooling.mode = "cls" if settings.get("pooling_mode_cls_token") else "mean"
        modules = directory / "modules.json"
        if modules.exists():
            normalize = any(m.get("type", "").endswith("Normalize") for m in json.loads(modules.read_text()))
        pooling.normalize = normalize
        return pooling


@dataclass
class LoadedModel:
    name: str
    directory: Path
    digest: bytes
    kind: ModelKind
    model: object  # a transformers PreTrainedModel, in eval mode
    tokenizer: object
    max_input_tokens: int
    pooling: Pooling = field(default_factory=Pooling)
    _exact: object | None = None  # a float64 copy, made on first need (near-ties; see decoding.py)

    @property
    def hex(self) -> str:
        return self.digest.hex()

    def exact(self):
        """The model in float64: slow, used only to decide near-ties canonically."""
        if self._exact is None:
            self._exact = copy.deepcopy(self.model).to(dtype=torch.float64).eval()
        return self._exact


def _kind(config) -> ModelKind:
    architectures = getattr(config, "architectures", None) or []
    if getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(f"encoder-decoder models ({architectures}) are not served yet")
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return ModelKind.CAUSAL_LM
    return ModelKind.ENCODER


def load_model(source: Path | str, max_input_tokens: int | None = None, cache: Path | None = None,
               device: str = "cpu") -> LoadedModel:
    """Loads a model through `from_pretrained`, offline: a transformers directory, a GGUF file (dequantized once
    into `cache`), or a catalog name (provider.catalog). ModelLoadError says why it cannot."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    path = resolve(source)
    directory = converted(path, cache) if path.suffix == ".gguf" else path.resolve()
    if not directory.is_dir():
        raise ModelLoadError(f"{directory} is not a directory, a GGUF file or a model name ({', '.join(MODELS)})")
    digest = model_digest(directory)
    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
        kind = _kind(config)
        loader = AutoModelForCausalLM if kind is ModelKind.CAUSAL_LM else AutoModel
        model = loader.from_pretrained(directory, local_files_only=True).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad directory
        raise ModelLoadError(f"cannot load {directory}: {type(exc).__name__}: {exc}") from exc
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or DEFAULT_MAX_INPUT_TOKENS
    return LoadedModel(
        name=readable_id(str(source) if str(source).lower() in MODELS else path.stem if path.suffix == ".gguf" else directory.name),
        directory=directory, digest=digest, kind=kind, model=model, tokenizer=tokenizer,
        max_input_tokens=min(max_input_tokens or limit, limit),
        pooling=Pooling.read(directory) if kind is ModelKind.ENCODER else Pooling(),
    )
