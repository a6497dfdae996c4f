"""Cutting a transformers model directory into fragments: the head and spans of decoder layers.

Tensors are grouped by name: those under the decoder's layer list (`model.layers.<i>.`, `transformer.h.<i>.`)
go to the span holding layer i, with their names unchanged, so a fragment says which layers it carries;
every other tensor (embeddings, position embeddings, final norm, an untied output head) goes to the head.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from marketplace.pipeline.errors import FragmentError
from marketplace.digests import file_sha256
from marketplace.pipeline.fragments import Fragment, Manifest, Span, even_spans
from marketplace.pipeline.store import MANIFEST, FragmentStore

LAYER_KEY = re.compile(r"^(?P<prefix>.+?)\.(?P<index>\d+)\.(?P<rest>.+)$")
SMALL_FILE_SUFFIXES = (".json", ".txt", ".model", ".jinja", ".tiktoken")
NOT_MODEL_FILES = {"README.md", "gguf_source.json", "data_config.json", MANIFEST}
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def model_shape(config: dict) -> tuple[str, int, int]:
    """(model type, decoder layers, hidden size) from a config.json."""
    try:
        model_type = config["model_type"]
        layers = config.get("num_hidden_layers", config.get("n_layer"))
        hidden = config.get("hidden_size", config.get("n_embd"))
        return str(model_type), int(layers), int(hidden)
    except (KeyError, TypeError, ValueError) as exc:
        raise FragmentError(f"config.json does not say the model type, layers and hidden size: {exc!r}") from exc


def layer_bytes(source: Path) -> list[int]:
    """Bytes of each decoder layer's tensors, read from the safetensors headers (nothing is loaded)."""
    from safetensors import safe_open

    config = json.loads((Path(source) / "config.json").read_text())
    _, num_layers, _ = model_shape(config)
    sizes = [0] * num_layers
    for path in sorted(Path(source).glob("*.safetensors")):
        with safe_open(path, "pt") as tensors:
            for key in tensors.keys():
                match = LAYER_KEY.match(key)
                if match is not None and int(match["index"]) < num_layers:
                    piece = tensors.get_slice(key)
                    count = 1
                    for dim in piece.get_shape():
                        count *= dim
                    sizes[int(match["index"])] += count * DTYPE_BYTES.get(piece.get_dtype(), 4)
    return sizes


def spans_within(sizes: list[int], max_bytes: int) -> int:
    """The fewest even spans whose largest holds at most `max_bytes` of layers (what a node's memory allows)."""
    for count in range(1, len(sizes) + 1):
        if max(sum(sizes[s.first:s.end]) for s in even_spans(len(sizes), count)) <= max_bytes:
            return count
    raise FragmentError(f"one layer needs {max(sizes) / 1e6:,.1f} MB, more than the {max_bytes / 1e6:,.1f} MB allowed")


def cut_model(source: Path, store: FragmentStore, spans: int | list[Span], name: str | None = None) -> Manifest:
    """Writes the model at `source` (a transformers directory with safetensors weights) into `store` as fragments;
    returns its manifest. Cutting the same files the same way gives the same digest."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    source = Path(source)
    try:
        config = json.loads((source / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise FragmentError(f"{source} has no readable config.json: {exc}") from exc
    model_type, num_layers, hidden = model_shape(config)
    cuts = even_spans(num_layers, spans) if isinstance(spans, int) else spans
    weights = sorted(source.glob("*.safetensors"))
    if not weights:
        raise FragmentError(f"{source} has no safetensors weights (save the model with safe_serialization)")

    groups: dict[Span | None, dict[str, torch.Tensor]] = {None: {}, **{span: {} for span in cuts}}
    prefixes = set()
    for path in weights:
        with safe_open(path, "pt") as tensors:
            for key in tensors.keys():
                match = LAYER_KEY.match(key)
                if match is None:
                    groups[None][key] = tensors.get_tensor(key).contiguous()
                    continue
                prefixes.add(match["prefix"])
                layer = int(match["index"])
                span = next((s for s in cuts if s.first <= layer < s.end), None)
                if span is None:
                    raise FragmentError(f"tensor {key} is of layer {layer}, outside every span of {num_layers} layers")
                groups[span][key] = tensors.get_tensor(key).contiguous()
    if len(prefixes) != 1:
        raise FragmentError(f"expected one list of decoder layers, found {sorted(prefixes) or 'none'}")

    fragments = []
    for span, group in groups.items():
        if not group:
            raise FragmentError(f"no tensors fall in {'the head' if span is None else f'layers {span}'}")
        scratch = store.root / f".cut-{'head' if span is None else span}.safetensors"
        store.root.mkdir(parents=True, exist_ok=True)
        save_file(group, scratch, metadata={"tessera.layers": "head" if span is None else str(span)})
        sha = file_sha256(scratch)
        store.fragments_dir.mkdir(parents=True, exist_ok=True)
        scratch.replace(store.fragment_path(sha))
        fragments.append(Fragment(span, sha, store.fragment_path(sha).stat().st_size,
                                  sum(t.numel() for t in group.values())))

    small = {p.name: p for p in sorted(source.iterdir())
             if p.is_file() and p.suffix in SMALL_FILE_SUFFIXES and p.name not in NOT_MODEL_FILES}
    manifest = Manifest(name or source.name, model_type, num_layers, hidden,
                        {file: file_sha256(path) for file, path in small.items()},
                        tuple(sorted(fragments, key=lambda f: -1 if f.span is None else f.span.first)))
    manifest.check_tiling()
    target = store.model_dir(manifest.hex)
    target.mkdir(parents=True, exist_ok=True)
    for file, path in small.items():
        shutil.copyfile(path, target / file)
    with store.writing(target / MANIFEST) as out:
        out.write(json.dumps(manifest.to_json(), indent=1).encode())
    return manifest
