"""Digests of shard inputs and results: what providers commit to and replicas compare.

A generation digest covers the token ids (not logits: those differ across
thread counts around 1e-6 while greedy tokens do not), the decoding
parameters, the model and the input. An embedding digest covers the vector
quantized to a fixed grid, so run-to-run noise far below the grid step
leaves it unchanged; disputes compare the raw vectors with a tolerance.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

DIGEST_BYTES = 32
# Grid step of embedding digests. Float32 runs of one input differ ~1e-7 (threads,
# batch shapes); providers settle components that close to a grid boundary in
# float64 (provider/embedding.py), so a coarser grid means fewer such reruns.
EMBEDDING_QUANTUM = 1e-3
EMBEDDING_TOLERANCE = 1e-3  # per component, when two runs' raw vectors are compared on dispute


@dataclass(frozen=True)
class DecodingParams:
    max_new_tokens: int
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None  # sampling seed, from the job, when temperature > 0

    @classmethod
    def parse(cls, raw: object) -> DecodingParams:
        """The one reading of a job's `params` (aggregator and provider alike: the digest covers the typed values).
        ValueError says what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("params must be an object with max_new_tokens")
        try:
            params = cls(max_new_tokens=int(raw["max_new_tokens"]), temperature=float(raw.get("temperature", 0.0)),
                         top_p=float(raw.get("top_p", 1.0)), seed=None if raw.get("seed") is None else int(raw["seed"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid decoding params: {exc!r}") from exc
        if params.max_new_tokens < 1 or params.temperature < 0 or not 0 < params.top_p <= 1:
            raise ValueError("max_new_tokens must be at least 1, temperature at least 0, top_p in (0, 1]")
        if params.temperature > 0 and params.seed is None:
            raise ValueError("sampling (temperature > 0) needs a seed so replicas can reproduce it")
        return params

    def digest(self) -> bytes:
        return _params_digest(self)


@lru_cache(maxsize=1024)
def _params_digest(params: DecodingParams) -> bytes:
    """A job's parameters are digested once, not once per result."""
    return _tagged("decoding", json.dumps(asdict(params), sort_keys=True, separators=(",", ":")).encode())


def _tagged(tag: str, payload: bytes) -> bytes:
    return hashlib.sha256(f"tessera/{tag}/v1\0".encode() + payload).digest()


def input_digest(shard_input: object) -> bytes:
    """A shard's input (prompt text, token ids, or text to embed) in canonical JSON."""
    return _tagged("input", json.dumps(shard_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def generation_digest(model: bytes, shard_input: bytes, params: DecodingParams, token_ids: Sequence[int]) -> bytes:
    body = model + shard_input + params.digest() + struct.pack(f"<I{len(token_ids)}I", len(token_ids), *token_ids)
    return _tagged("generation", body)


def quantize(vector: Sequence[float], quantum: float = EMBEDDING_QUANTUM) -> list[int]:
    return [round(v / quantum) for v in vector]


def embedding_digest(model: bytes, shard_input: bytes, vector: Sequence[float]) -> bytes:
    grid = quantize(vector)
    return _tagged("embedding", model + shard_input + struct.pack(f"<I{len(grid)}q", len(grid), *grid))


def embeddings_agree(a: Sequence[float], b: Sequence[float], tolerance: float = EMBEDDING_TOLERANCE) -> bool:
    """Two runs of one input agree when no component differs by more than the tolerance."""
    return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(a, b))


def file_sha256(path: Path) -> str:
    """A file's sha256 in hex, read in blocks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
