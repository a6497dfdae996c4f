"""Digests are the same across thread counts, batch sizes and processes (each run in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys


def probe(threads: int, batch: int, causal, encoder) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.provider.digest_probe", "--threads", str(threads), "--batch",
                           str(batch), "--causal", str(causal), "--encoder", str(encoder)],
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_digests_agree_across_threads_batches_and_restarts(llama_dir, minilm_dir):
    one_thread = probe(1, 8, llama_dir, minilm_dir)
    two_threads = probe(2, 8, llama_dir, minilm_dir)
    two_single = probe(2, 1, llama_dir, minilm_dir)
    assert len(one_thread["generate"]) == 16 and len(one_thread["embed"]) == 16
    assert one_thread == two_threads == two_single
