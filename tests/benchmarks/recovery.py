"""Recovery after kill -9: a market of separate processes with a job in flight; each kind of process is
killed once and restarted (tests/chaos/faults.py); the time from the restart to the closed job with every
output, against the goal of the claim timeout plus 15 s."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.chaos.faults import CLAIM_TIMEOUT, DOWN, FAULTS, NEW_TOKENS, PROMPTS, RECOVERY_GOAL, Recovery, run_fault


def measure() -> list[Recovery]:
    from provider.model_builder import build_causal_lm
    from provider.models import model_digest

    with tempfile.TemporaryDirectory() as directory:
        model_dir = build_causal_lm(Path(directory) / "gpt2", "gpt2", seed=1)
        digest = model_digest(model_dir).hex()
        return [asyncio.run(run_fault(fault, Path(directory) / fault, model_dir, digest)) for fault in FAULTS]


def markdown(results: list[Recovery]) -> str:
    lines = [
        "## Recovery after kill -9 (a job in flight)",
        "",
        f"Localnet (with its ledger), the aggregator and three provider nodes, each its own process; a job of {PROMPTS} "
        f"prompts × {NEW_TOKENS} tokens (seeded tiny GPT-2); once its first output is verified one process is killed "
        f"with -9, stays down {DOWN:g} s and is restarted. Claim timeout {CLAIM_TIMEOUT} s; goal: the job closes with "
        f"every output within the claim timeout + {RECOVERY_GOAL} s of the restart.",
        "",
        "| process killed | closed after the restart (s) | outputs | lamports unaccounted | goal met |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r.fault} | {r.completed_after_restart:.1f} | {r.outputs}/{r.shards} | {r.lamports_unaccounted} | "
                     f"{'yes' if r.within_goal else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(measure()))
