"""Solana keypair files (the Solana CLI's JSON array of 64 bytes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from solders.keypair import Keypair

from marketplace.errors import KeypairError


def load_keypair(path: Path | str) -> Keypair:
    path = Path(path).expanduser()
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, list) or len(raw) != 64 or not all(isinstance(b, int) and 0 <= b < 256 for b in raw):
            raise ValueError("expected a JSON array of 64 bytes")
        return Keypair.from_bytes(bytes(raw))
    except (OSError, ValueError) as exc:
        raise KeypairError(f"cannot read the keypair {path}: {exc}") from exc


def write_keypair(path: Path | str, keypair: Keypair | None = None) -> Keypair:
    """Writes `keypair` (or a new one) readable by its owner only, as `solana-keygen new` does."""
    keypair = keypair or Keypair()
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(list(bytes(keypair)), handle)
    return keypair
