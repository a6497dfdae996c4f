"""A node's fragment store on disk: manifests and their small files per model, fragments by sha256.

    <root>/models/<model digest>/manifest.json, config.json, tokenizer files…
    <root>/fragments/<sha256>.safetensors

Fragments are content-addressed, so two models sharing a fragment store it once, and a fragment's name
says what its bytes must hash to. Everything is written aside and renamed into place: a crash leaves
no half-written file under its final name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from marketplace.pipeline.errors import FragmentError
from marketplace.pipeline.fragments import Fragment, Manifest, read_manifest, verify_file

MANIFEST = "manifest.json"


class FragmentStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.models_dir = self.root / "models"
        self.fragments_dir = self.root / "fragments"

    def model_dir(self, digest: str) -> Path:
        return self.models_dir / digest

    def fragment_path(self, sha256: str) -> Path:
        return self.fragments_dir / f"{sha256}.safetensors"

    def holds(self, fragment: Fragment) -> bool:
        return self.fragment_path(fragment.sha256).is_file()

    def manifest(self, digest: str) -> Manifest:
        path = self.model_dir(digest) / MANIFEST
        if not path.is_file():
            raise FragmentError(f"this store holds no model {digest} (no {path})")
        return read_manifest(path, expected_digest=digest)

    def manifests(self) -> list[Manifest]:
        if not self.models_dir.is_dir():
            return []
        return [self.manifest(d.name) for d in sorted(self.models_dir.iterdir()) if (d / MANIFEST).is_file()]

    def has_model_files(self, manifest: Manifest) -> bool:
        directory = self.model_dir(manifest.hex)
        return (directory / MANIFEST).is_file() and all((directory / name).is_file() for name in manifest.files)

    def verified_fragment(self, fragment: Fragment) -> Path:
        """The fragment's file, after checking its bytes hash to its name (FragmentCorrupt if not)."""
        path = self.fragment_path(fragment.sha256)
        if not path.is_file():
            raise FragmentError(f"this store does not hold the fragment {fragment.label} ({fragment.sha256})")
        verify_file(path, fragment.sha256)
        return path

    def verified_model_dir(self, manifest: Manifest) -> Path:
        """The directory of the model's config and tokenizer, every file checked against the manifest."""
        directory = self.model_dir(manifest.hex)
        for name, sha in manifest.files.items():
            verify_file(directory / name, sha)
        return directory

    @contextmanager
    def writing(self, final: Path) -> Iterator[BinaryIO]:
        """A file opened aside; renamed to `final` only if the block completes."""
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                yield out
            os.replace(scratch, final)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
