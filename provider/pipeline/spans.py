"""A model's pieces as torch modules, loaded from their fragments alone.

A span is run as the family's base model (`LlamaModel`, `GPT2Model`) configured with only its layers, its
embeddings shrunk to one row, no final norm and no position embeddings (the head fragment adds those): the
library's own attention, masks, rotary positions and KV cache do the work, so a split model computes what
the whole one does. The head holds the embeddings, final norm and output head: what the driver needs to turn
tokens into the first stage's input and the last stage's output into logits.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass

import torch
from torch import nn

from marketplace.pipeline.errors import FragmentError
from marketplace.pipeline.fragments import Manifest, Span
from marketplace.pipeline.store import FragmentStore


@dataclass(frozen=True)
class Family:
    final_norm: str  # the base model's last norm, applied by the head
    positions: str | None  # absolute position embeddings, added by the head


FAMILIES = {"llama": Family("norm", None), "gpt2": Family("ln_f", "wpe")}


class NoPositions(nn.Module):
    """A span adds no position embeddings: the head did, once, before the first span."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*position_ids.shape, self.hidden_size)


def family(manifest: Manifest) -> Family:
    try:
        return FAMILIES[manifest.model_type]
    except KeyError:
        raise FragmentError(f"pipelines serve {', '.join(FAMILIES)} models, not {manifest.model_type}") from None


def _config(store: FragmentStore, manifest: Manifest):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(store.verified_model_dir(manifest), local_files_only=True)


def _load(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


class SpanModel:
    """The decoder layers [first, end) of one model, with a KV cache per session."""

    def __init__(self, manifest: Manifest, span: Span, module: nn.Module, config) -> None:
        self.manifest, self.span, self.module, self.config = manifest, span, module, config

    @property
    def hidden_size(self) -> int:
        return self.manifest.hidden_size

    def new_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self.config)

    @torch.inference_mode()
    def forward(self, hidden: torch.Tensor, start: int, cache=None) -> torch.Tensor:
        """The span's output for `hidden` ([1, tokens, hidden]) at positions start.., extending `cache`."""
        positions = torch.arange(start, start + hidden.shape[1]).unsqueeze(0)
        out = self.module(inputs_embeds=hidden, position_ids=positions, cache=cache, use_cache=cache is not None)
        return out.last_hidden_state

    @torch.inference_mode()
    def trace(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's output for a whole sequence from position 0, in one prefill: what a referee compares."""
        positions = torch.arange(hidden.shape[1]).unsqueeze(0)
        out = self.module(inputs_embeds=hidden, position_ids=positions, use_cache=False, output_hidden_states=True)
        return list(out.hidden_states[1:])

    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


def load_span(store: FragmentStore, manifest: Manifest, span: Span) -> SpanModel:
    """The span's layers from its fragment (checked against its sha256 first), and nothing else of the model.

    Loaded through `from_pretrained` with the fragment as its state dict, so weights are not first allocated and
    randomly initialised and then copied over: a stage's memory is its layers'."""
    from transformers import MODEL_MAPPING

    shape = family(manifest)
    fragment = manifest.fragment_for(span)
    config = _config(store, manifest)
    span_config = copy.deepcopy(config)
    span_config.num_hidden_layers = span.layers
    span_config.vocab_size = 1  # the span never embeds tokens: one row instead of the vocabulary
    span_config.pad_token_id = None
    if getattr(span_config, "layer_types", None):
        span_config.layer_types = span_config.layer_types[span.first:span.end]
    model_class = MODEL_MAPPING[type(span_config)]
    with torch.device("meta"):
        expected = model_class(span_config).state_dict()
    local, layer_list = {}, None
    prefix = re.escape(model_class.base_model_prefix)
    for key, tensor in _load(store.verified_fragment(fragment)).items():
        match = re.match(rf"^(?:{prefix}\.)?(?P<list>[A-Za-z_]+)\.(?P<i>\d+)\.(?P<rest>.+)$", key)
        if match is None or not span.first <= int(match["i"]) < span.end:
            raise FragmentError(f"the fragment of layers {span} holds {key}, which is not one of its layers")
        layer_list = match["list"]
        local[f"{layer_list}.{int(match['i']) - span.first}.{match['rest']}"] = tensor
    missing = [k for k in expected if k.startswith(f"{layer_list}.") and k not in local]
    if not local or missing or set(local) - set(expected):
        raise FragmentError(f"the fragment of layers {span} does not fit the model's layers: missing {missing[:3]}, "
                            f"unexpected {sorted(set(local) - set(expected))[:3]}")
    # What a span holds but never uses (its one-row embedding, the norm and positions the head applies): zeros.
    state = {k: local[k] if k in local else torch.zeros(v.shape, dtype=v.dtype) for k, v in expected.items()}
    module = model_class.from_pretrained(None, config=span_config, state_dict=state).eval()
    setattr(module, shape.final_norm, nn.Identity())
    if shape.positions:
        setattr(module, shape.positions, NoPositions(manifest.hidden_size))
    return SpanModel(manifest, span, module, span_config)


class HeadModel:
    """Embeddings in, logits out: the model minus its decoder layers."""

    def __init__(self, manifest: Manifest, model: nn.Module, tokenizer, generation_config) -> None:
        self.manifest, self.model, self.tokenizer, self.generation_config = manifest, model, tokenizer, generation_config
        self.shape = family(manifest)
        self.base = getattr(model, model.base_model_prefix)

    @torch.inference_mode()
    def embed(self, token_ids: list[int], start: int) -> torch.Tensor:
        ids = torch.tensor([token_ids])
        hidden = self.base.get_input_embeddings()(ids)
        if self.shape.positions:
            hidden = hidden + getattr(self.base, self.shape.positions)(torch.arange(start, start + len(token_ids)).unsqueeze(0))
        return hidden

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits from the last stage's output for the last token."""
        last = hidden[:, -1:, :]
        return self.model.get_output_embeddings()(getattr(self.base, self.shape.final_norm)(last))[0, -1]

    @property
    def max_positions(self) -> int:
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 2048)

    def eos_ids(self) -> set[int]:
        eos = getattr(self.generation_config, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        return set(eos if isinstance(eos, list) else [] if eos is None else [eos])


def load_head(store: FragmentStore, manifest: Manifest) -> HeadModel:
    """The model without its decoder layers, from the head fragment alone (loaded as a span is: no random init)."""
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, AutoTokenizer, GenerationConfig

    family(manifest)  # a family this code can run, or FragmentError
    config = _config(store, manifest)
    head_config = copy.deepcopy(config)
    head_config.num_hidden_layers = 0
    if getattr(head_config, "layer_types", None):
        head_config.layer_types = []
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(head_config)]
    with torch.device("meta"):
        expected = set(model_class(head_config).state_dict())
    state = _load(store.verified_fragment(manifest.head))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    missing = [k for k in expected - set(state) if not (tied and k.startswith("lm_head."))]
    if missing or set(state) - expected:
        raise FragmentError(f"the head fragment does not fit the model: missing {missing[:3]}, "
                            f"unexpected {sorted(set(state) - expected)[:3]}")
    model = model_class.from_pretrained(None, config=head_config, state_dict=state).eval()
    directory = store.verified_model_dir(manifest)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    try:
        generation = GenerationConfig.from_pretrained(directory, local_files_only=True)
    except OSError:
        generation = model.generation_config
    return HeadModel(manifest, model, tokenizer, generation)
