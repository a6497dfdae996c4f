"""Checking a stage by recomputation: per-token relative error between what it answered and a second run.

Floats are compared with a tolerance, never through hashes. Honest recomputation in one prefill pass differs
from the stage's cached token-by-token decode by ~1e-6 relative per token (SmolLM2, fp32); a skipped layer,
another layer's weights or added noise of 1e-3 differ by 1e-3 to 0.9. The comparison is per token because
the first token's residual norm is ~100x the median: a whole-sequence norm would let it hide the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

RECOMPUTE_TOLERANCE = 1e-4  # relative, per token: ~100x the honest spread, ~10x under the smallest lie seen


@dataclass(frozen=True)
class StageCheck:
    agrees: bool
    worst_token: int  # index in the session's tokens (prompt tokens first)
    worst_error: float  # relative error at that token
    tokens: int


def token_errors(claimed: torch.Tensor, recomputed: torch.Tensor) -> torch.Tensor:
    """Per token ||claimed - recomputed|| / ||recomputed||, over [.., tokens, hidden] tensors of one shape."""
    claimed, recomputed = claimed.reshape(-1, claimed.shape[-1]).double(), recomputed.reshape(-1, recomputed.shape[-1]).double()
    return (claimed - recomputed).norm(dim=-1) / recomputed.norm(dim=-1).clamp_min(1e-12)


def compare(claimed: torch.Tensor, recomputed: torch.Tensor, tolerance: float = RECOMPUTE_TOLERANCE) -> StageCheck:
    if claimed.shape != recomputed.shape:
        return StageCheck(False, 0, float("inf"), int(recomputed.reshape(-1, recomputed.shape[-1]).shape[0]))
    errors = token_errors(claimed, recomputed)
    errors = torch.where(torch.isfinite(errors), errors, torch.full_like(errors, float("inf")))
    worst = int(errors.argmax())
    return StageCheck(bool(errors[worst] <= tolerance), worst, float(errors[worst]), int(errors.numel()))


def first_divergent_layer(accused: Sequence[torch.Tensor], referee: Sequence[torch.Tensor],
                          tolerance: float = RECOMPUTE_TOLERANCE) -> int | None:
    """Given each layer's output for the same input from the accused stage and a referee, the index (within the
    span) of the first layer whose output differs beyond the tolerance; None when every layer agrees."""
    for index, (theirs, ours) in enumerate(zip(accused, referee)):
        if not compare(theirs, ours, tolerance).agrees:
            return index
    return None if len(accused) == len(referee) else min(len(accused), len(referee))
