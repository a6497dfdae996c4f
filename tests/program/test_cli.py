"""The `tessera` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from client.cli import main
from marketplace.chain import program_so

TESSERA = Path(sys.executable).with_name("tessera")


def test_demo_runs_a_market_and_conserves_lamports():
    proc = subprocess.run([str(TESSERA), "demo"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for text in ("initialize_market", "register_provider (alice)", "ProviderRegistered", "Market ", "Provider ", "conserved"):
        assert text in proc.stdout
    assert "NOT conserved" not in proc.stdout


def test_program_build_writes_the_shipped_bytes(tmp_path):
    out = tmp_path / "tessera.so"
    result = CliRunner().invoke(main, ["program", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "sha256" in result.output
    assert out.read_bytes() == program_so()


def test_program_build_without_compiler_says_how_to_install_it(tmp_path):
    result = CliRunner().invoke(main, ["program", "build", "--clang", "clang-missing-99", "--out", str(tmp_path / "x.so")])
    assert result.exit_code == 1
    assert "clang-missing-99 not found" in result.output and "apt-get install" in result.output
    assert not (tmp_path / "x.so").exists()
