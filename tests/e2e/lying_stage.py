"""A stage node that lies: `python -m tests.e2e.lying_stage stage ...` takes `tessera provider stage`'s arguments and
serves its span with small noise added after its last layer (or, with TESSERA_LIE=skip|weights, skipping that
layer or using another layer's weights). The lie is in its layers, so its trace tells the same lie as its answers."""

from __future__ import annotations

import os

import torch


def lie(span, how: str):
    """Makes a span lie as a cheating stage would; returns it."""
    layers = span.module.layers if hasattr(span.module, "layers") else span.module.h
    if how == "skip":
        layers[-1].register_forward_hook(lambda module, args, output: args[0])
    elif how == "noise":
        generator = torch.Generator().manual_seed(0)

        def noisy(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            noise = torch.randn(hidden.shape, generator=generator) * hidden.norm(dim=-1, keepdim=True) * 1e-3 / hidden.shape[-1] ** 0.5
            return (hidden + noise,) + tuple(output[1:]) if isinstance(output, tuple) else hidden + noise

        layers[-1].register_forward_hook(noisy)
    elif how == "weights":
        layers[-1].load_state_dict(layers[0].state_dict())
    else:
        raise ValueError(f"no such lie: {how}")
    return span


if __name__ == "__main__":
    from provider.cli import provider
    from provider.pipeline import spans, stage_runner

    honest = spans.load_span
    stage_runner.load_span = lambda store, manifest, span: lie(honest(store, manifest, span), os.environ.get("TESSERA_LIE", "noise"))
    provider(prog_name="lying_stage")
