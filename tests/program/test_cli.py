"""The `tessera` command as a user runs it."""

from __future__ import annotations

from click.testing import CliRunner

from client.cli import main
from marketplace.chain import program_so


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
