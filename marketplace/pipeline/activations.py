"""Activations on the wire: float32, little-endian, token-major, no header (the session fixes the hidden size).

fp32 and not bf16: rounding the residual stream at every hop changes greedy tokens (17 of 20 prompts kept
SmolLM2's single-process answer with bf16 on the wire, 20 of 20 with fp32). JSON floats are never used:
they are bigger, slower, and their text round trip is a second source of drift.
"""

from __future__ import annotations

import hashlib
import sys

from marketplace.pipeline.errors import ActivationMalformed

BYTES_PER_VALUE = 4
OCTETS = "application/octet-stream"  # the content type of activations on the wire
RECEIPT_HEADER = "X-Tessera-Receipt"  # a step's answer: the stage's key and signature (receipts.StepReceipt.header)
CHECK_HEADER = "X-Tessera-Check"  # a recomputation the market pays for: the verifier's signed request, base64 JSON
MAX_TOKENS_PER_STEP = 8192
if sys.byteorder != "little":  # torch.frombuffer reads native order; the wire is little-endian
    raise ImportError("pipelined stages need a little-endian machine")


def encode(hidden) -> bytes:
    """A [1, tokens, hidden] or [tokens, hidden] torch tensor as bytes."""
    import torch

    return hidden.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()


def decode(data: bytes, hidden_size: int):
    """Bytes as a [1, tokens, hidden] float32 torch tensor; ActivationMalformed unless they hold whole, finite tokens."""
    import torch

    row = hidden_size * BYTES_PER_VALUE
    if not data or len(data) % row:
        raise ActivationMalformed(f"{len(data)} bytes are not a whole number of {hidden_size}-value float32 tokens")
    tokens = len(data) // row
    if tokens > MAX_TOKENS_PER_STEP:
        raise ActivationMalformed(f"{tokens} tokens in one step; at most {MAX_TOKENS_PER_STEP}")
    tensor = torch.frombuffer(bytearray(data), dtype=torch.float32).view(1, tokens, hidden_size)
    if not torch.isfinite(tensor).all():
        raise ActivationMalformed("activations must be finite (no NaN or infinity)")
    return tensor


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
