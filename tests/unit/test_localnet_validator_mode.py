"""`tessera localnet --validator` starts a real solana-test-validator with the program preloaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from marketplace.chain import PROGRAM_ID
from marketplace.chain.program import SO_PATH
from tests.cli import TESSERA


def run_localnet(args: list[str], path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run([TESSERA, "localnet", *args], capture_output=True, text=True, env=env, timeout=60)


def test_validator_mode_preloads_the_program(tmp_path):
    fake = tmp_path / "bin" / "solana-test-validator"
    fake.parent.mkdir()
    record = tmp_path / "args.txt"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    fake.chmod(0o755)
    proc = run_localnet(["--validator", "--port", "9999", "--ledger", str(tmp_path / "l"), "--reset", "--quiet"],
                        f"{fake.parent}:{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stderr
    args = record.read_text().split()
    assert args[:3] == ["--bpf-program", str(PROGRAM_ID), str(SO_PATH)]
    assert {"--rpc-port", "9999", "--ledger", "--reset", "--quiet"} <= set(args)


def test_validator_mode_without_a_validator_says_so(tmp_path):
    proc = run_localnet(["--validator"], str(Path(sys.executable).parent) + ":/usr/bin:/bin")
    assert proc.returncode == 1
    assert "solana-test-validator is not on PATH" in proc.stderr
