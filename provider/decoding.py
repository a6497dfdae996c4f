"""How a token is chosen from logits: greedy, or seeded sampling that a teacher-forced pass can check.

Sampling is Gumbel-max with noise drawn from (job seed, shard input, position):
the sampled token is the argmax of `logits + temperature * noise` over the
top-p nucleus. So one rule serves both modes, a checker recomputes the same
scores from the same logits, and a batch chooses what single runs choose.

Near-ties: float32 logits move around 1e-6 with thread count, batch shape
and padding, so a top-2 gap below NEAR_TIE is decided again from a float64
forward pass, whose noise is ~1e-15. Every run thus agrees on the token,
and the gap is recorded so a referee can tell a near-tie from a lie.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from marketplace.digests import DecodingParams

NEAR_TIE = 1e-4  # logits: a top-2 gap below this is decided in float64


def sampling_noise(seed: int, shard_input: bytes, position: int, vocab: int) -> torch.Tensor:
    """Standard Gumbel noise for one generated position, float64, the same on every machine."""
    key = hashlib.sha256(b"tessera/sampling/v1\0" + seed.to_bytes(16, "little", signed=True) + shard_input
                         + position.to_bytes(4, "little")).digest()
    # Drawn on the CPU whatever device the node runs on: the noise must be the same bits everywhere.
    generator = torch.Generator(device="cpu").manual_seed(int.from_bytes(key[:8], "little") >> 1)
    uniform = torch.rand(vocab, generator=generator, dtype=torch.float64, device="cpu").clamp_(1e-300, 1.0 - 2**-53)
    return -torch.log(-torch.log(uniform))


@dataclass(frozen=True)
class Rule:
    """The scoring rule of one shard: its decoding parameters and what keys its sampling noise."""

    params: DecodingParams
    shard_input: bytes  # input digest

    @property
    def greedy(self) -> bool:
        return self.params.temperature == 0

    def scores(self, logits: torch.Tensor, position: int) -> torch.Tensor:
        """Scores whose argmax is the chosen token at `position` (0 = first generated token)."""
        if self.greedy:
            return logits
        params = self.params
        if params.top_p < 1.0:
            probs = torch.softmax(logits.double() / params.temperature, dim=-1)
            ordered, order = probs.sort(descending=True, stable=True)
            outside = ordered.cumsum(-1) - ordered >= params.top_p  # tokens past the nucleus
            logits = logits.clone()
            logits[order[outside]] = float("-inf")
        noise = sampling_noise(params.seed, self.shard_input, position, logits.shape[-1]).to(logits.device, logits.dtype)
        return logits + params.temperature * noise


def choose(scores: torch.Tensor) -> tuple[int, float]:
    """The top token (lowest id among exact equals) and its lead over the runner-up."""
    top = scores.topk(min(2, scores.shape[-1]))
    token = int(scores.argmax())
    gap = float(top.values[0] - top.values[1]) if top.values.numel() > 1 else float("inf")
    return token, gap
