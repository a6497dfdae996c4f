"""`tessera demo` (what `make demo` runs) on this machine: the whole market. How fast it runs is no behaviour to
assert on a shared machine: the timeout only stops a demo that hangs."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.cli import TESSERA

pytestmark = pytest.mark.slow


def test_the_demo_pays_for_a_batch_and_per_request_and_conserves_lamports():
    proc = subprocess.run([TESSERA, "demo"], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "COLUMNS": "160"})  # wide enough that rich does not wrap the tables
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for text in ("Results", "create_job", "close_job", "settled", "verification:", "conserved",
                 "Paid per request by voucher (OpenAI API, in an epoch)", "Pipelined answers"):
        assert text in proc.stdout
    assert "NOT conserved" not in proc.stdout
