"""Prints the digests a node computes for fixed inputs, in a fresh process with a given thread count.

    python -m tests.provider.digest_probe --threads 2 --causal DIR --encoder DIR

Two runs (different thread counts, batch sizes, processes) must print the same.
"""

from __future__ import annotations

import argparse
import json

import torch

from marketplace.digests import DecodingParams, embedding_digest, generation_digest, input_digest
from provider.embedding import embed_batch
from provider.generation import GenerationRequest, generate_batch
from provider.models import load_model

PROMPTS = [f"Prompt {i}: agents pay per request for " + "shards " * (i % 4) for i in range(8)]
TEXTS = [f"text {i}: " + "inference settled on Solana " * (i % 3 + 1) for i in range(16)]
PARAMS = [DecodingParams(12), DecodingParams(12, temperature=0.9, top_p=0.95, seed=5)]


def digests(causal: str, encoder: str, batch: int) -> dict[str, list[str]]:
    lm, enc = load_model(causal), load_model(encoder)
    out: dict[str, list[str]] = {"generate": [], "embed": []}
    for params in PARAMS:
        requests = [GenerationRequest(p, params, input_digest({"prompt": p})) for p in PROMPTS]
        for start in range(0, len(requests), batch):
            chunk = requests[start:start + batch]
            for request, result in zip(chunk, generate_batch(lm, chunk)):
                out["generate"].append(generation_digest(lm.digest, request.input_digest, params, result.token_ids).hex())
    for start in range(0, len(TEXTS), batch):
        chunk = TEXTS[start:start + batch]
        for text, result in zip(chunk, embed_batch(enc, chunk)):
            out["embed"].append(embedding_digest(enc.digest, input_digest({"text": text}), result.vector).hex())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--causal", required=True)
    parser.add_argument("--encoder", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(digests(args.causal, args.encoder, args.batch)))


if __name__ == "__main__":
    main()
