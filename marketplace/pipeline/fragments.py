"""Fragment manifests: which files and fragments make a model, and the model digest over them.

A model is cut into the head fragment (embeddings, final norm, output head) and spans of decoder layers,
each a safetensors file named by its sha256. The manifest lists them with the config and tokenizer files;
the model digest is the Merkle root over (each file's name and sha256, each fragment's layer range and
sha256), so a node holding one fragment can prove which model it belongs to, and a manifest fetched from a
peer is checked against the digest that was asked for before anything in it is trusted.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from marketplace.digests import file_sha256
from marketplace.merkle import merkle_root
from marketplace.pipeline.errors import FragmentCorrupt, FragmentError

FORMAT = "tessera/fragments/v1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # config and tokenizer files: flat names only


@dataclass(frozen=True)
class Span:
    """Decoder layers [first, end)."""

    first: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.first < self.end:
            raise FragmentError(f"a span holds layers [first, end) with 0 <= first < end, not [{self.first}, {self.end})")

    @property
    def layers(self) -> int:
        return self.end - self.first

    def __str__(self) -> str:  # as the CLI takes it: inclusive
        return f"{self.first}-{self.end - 1}"

    @classmethod
    def parse(cls, text: str) -> Span:
        """'10-19' (inclusive, as `--layers` takes it) or '10' for one layer."""
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
        if match is None:
            raise FragmentError(f"{text!r} is not a layer range such as 10-19")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise FragmentError(f"{text!r}: the last layer comes before the first")
        return cls(first, last + 1)


@dataclass(frozen=True)
class Fragment:
    span: Span | None  # None: the head fragment (embeddings, final norm, output head)
    sha256: str
    size: int  # bytes of the safetensors file
    parameters: int

    @property
    def label(self) -> str:
        return "head" if self.span is None else f"layers {self.span}"

    def leaf(self) -> bytes:
        if self.span is None:
            return b"head\0" + bytes.fromhex(self.sha256)
        return b"layers\0" + struct.pack("<II", self.span.first, self.span.end) + bytes.fromhex(self.sha256)


@dataclass(frozen=True)
class Manifest:
    name: str
    model_type: str  # the transformers family (llama, gpt2)
    num_layers: int
    hidden_size: int
    files: dict[str, str]  # config and tokenizer files: name -> sha256
    fragments: tuple[Fragment, ...]

    @property
    def digest(self) -> bytes:
        leaves = [b"file\0" + name.encode() + b"\0" + bytes.fromhex(sha) for name, sha in sorted(self.files.items())]
        return merkle_root(leaves + [fragment.leaf() for fragment in self.fragments])

    @property
    def hex(self) -> str:
        return self.digest.hex()

    @property
    def head(self) -> Fragment:
        return next(f for f in self.fragments if f.span is None)

    @property
    def spans(self) -> list[Fragment]:
        return [f for f in self.fragments if f.span is not None]

    def fragment_for(self, span: Span) -> Fragment:
        for fragment in self.spans:
            if fragment.span == span:
                return fragment
        raise FragmentError(f"model {self.hex[:16]}… has no fragment of layers {span} "
                            f"(its spans: {', '.join(str(f.span) for f in self.spans)})")

    def to_json(self) -> dict:
        return {"format": FORMAT, "name": self.name, "model_type": self.model_type, "num_layers": self.num_layers,
                "hidden_size": self.hidden_size, "files": dict(sorted(self.files.items())),
                "fragments": [{"layers": None if f.span is None else [f.span.first, f.span.end], "sha256": f.sha256,
                               "bytes": f.size, "parameters": f.parameters} for f in self.fragments],
                "digest": self.hex}

    @classmethod
    def from_json(cls, data: object, expected_digest: str | None = None) -> Manifest:
        """A manifest as read from disk or a peer; FragmentError unless it is well formed, its spans tile the
        model's layers, and its digest is the one it states (and the one expected, when given)."""
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise FragmentError(f"not a {FORMAT} manifest")
            files = data["files"]
            if not isinstance(files, dict) or "config.json" not in files:
                raise FragmentError("a manifest lists its files, config.json among them")
            for name, sha in files.items():
                _check_name(name)
                _check_sha(sha)
            fragments = tuple(
                Fragment(None if f["layers"] is None else Span(int(f["layers"][0]), int(f["layers"][1])),
                         _check_sha(f["sha256"]), int(f["bytes"]), int(f["parameters"]))
                for f in data["fragments"])
            manifest = cls(str(data["name"]), str(data["model_type"]), int(data["num_layers"]), int(data["hidden_size"]),
                           dict(files), fragments)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise FragmentError(f"malformed manifest: {exc!r}") from exc
        manifest.check_tiling()
        stated = data.get("digest")
        if stated != manifest.hex or (expected_digest is not None and expected_digest != manifest.hex):
            raise FragmentCorrupt(f"the manifest's contents hash to {manifest.hex}, not {expected_digest or stated}")
        return manifest

    def check_tiling(self) -> None:
        heads = [f for f in self.fragments if f.span is None]
        if len(heads) != 1:
            raise FragmentError(f"a manifest has exactly one head fragment, not {len(heads)}")
        cursor = 0
        for fragment in self.spans:
            if fragment.span.first != cursor:
                raise FragmentError(f"spans must tile layers 0-{self.num_layers - 1} in order; {fragment.label} "
                                    f"starts at {fragment.span.first}, expected {cursor}")
            cursor = fragment.span.end
        if cursor != self.num_layers:
            raise FragmentError(f"spans cover {cursor} of {self.num_layers} layers")


def even_spans(num_layers: int, count: int) -> list[Span]:
    """`count` spans of as equal a number of layers as can be, in order."""
    if not 1 <= count <= num_layers:
        raise FragmentError(f"{num_layers} layers cannot be cut into {count} spans")
    bounds = [round(i * num_layers / count) for i in range(count + 1)]
    return [Span(a, b) for a, b in zip(bounds, bounds[1:])]


def verify_file(path: Path, sha256: str) -> None:
    actual = file_sha256(path)
    if actual != sha256:
        raise FragmentCorrupt(f"{path.name} hashes to {actual}, not {sha256}")


def _check_sha(value: object) -> str:
    if not isinstance(value, str) or not SHA256_HEX.match(value):
        raise FragmentError(f"{value!r} is not a lowercase hex sha256")
    return value


def _check_name(value: object) -> str:
    if not isinstance(value, str) or not FILE_NAME.match(value) or value.startswith("."):
        raise FragmentError(f"{value!r} is not a plain file name")
    return value


def read_manifest(path: Path, expected_digest: str | None = None) -> Manifest:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FragmentError(f"cannot read the manifest {path}: {exc}") from exc
    return Manifest.from_json(data, expected_digest)
