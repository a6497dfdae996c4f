"""The linker turns clang-19's object into the shipped .so, and refuses what SBPF v0 cannot run.

These tests compile C with the real clang-19 (installed by `make test`); a
missing compiler fails them with the install command, it never skips them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.chain.program import program_so
from marketplace.sbf import linker
from marketplace.sbf.build import ProgramSources, build_program, compile_object, default_sources
from marketplace.sbf.errors import (
    LinkError,
    MissingEntrypointError,
    UnknownSyscallError,
    UnsupportedOpcodeError,
    UnsupportedRelocationError,
    WritableDataError,
)

PRELUDE = """
typedef unsigned long long uint64_t;
void sol_log_(const char *message, uint64_t len);
"""


def compile_snippet(tmp_path: Path, body: str, *extra_flags: str) -> bytes:
    (tmp_path / "src").mkdir()
    (tmp_path / "include").mkdir()
    (tmp_path / "src" / "program.c").write_text(PRELUDE + body)
    return compile_object(ProgramSources(tmp_path), extra_flags=extra_flags)


def test_build_from_source_reproduces_the_shipped_so_byte_for_byte(tmp_path):
    out = tmp_path / "tessera.so"
    result = build_program(default_sources(), out=out)
    assert not result.header_changed, "the committed header differs from the IDL"
    assert out.read_bytes() == program_so(), "the shipped .so is not what the sources build: run `tessera program build`"


def test_link_minimal_program(tmp_path):
    so = linker.link(compile_snippet(tmp_path, 'uint64_t entrypoint(const unsigned char *in) { sol_log_("hi", 2); return 0; }'))
    assert so[:4] == b"\x7fELF" and b"sol_log_\0" in so


def test_link_fail_writable_global(tmp_path):
    obj = compile_snippet(tmp_path, "uint64_t counter;\nuint64_t entrypoint(const unsigned char *in) { return ++counter; }")
    with pytest.raises(WritableDataError, match="counter"):
        linker.link(obj)


def test_link_fail_unknown_syscall(tmp_path):
    obj = compile_snippet(tmp_path, "void sol_frobnicate(void);\nuint64_t entrypoint(const unsigned char *in) { sol_frobnicate(); return 0; }")
    with pytest.raises(UnknownSyscallError, match="sol_frobnicate"):
        linker.link(obj)


def test_link_fail_missing_entrypoint(tmp_path):
    obj = compile_snippet(tmp_path, "uint64_t main_entry(const unsigned char *in) { return in[0]; }")
    with pytest.raises(MissingEntrypointError):
        linker.link(obj)


def test_link_fail_jmp32_opcodes(tmp_path):
    body = "uint64_t entrypoint(const unsigned char *in) { unsigned int x = *(const unsigned int *)in; return x > 7 ? 1 : 2; }"
    with pytest.raises(UnsupportedOpcodeError, match="jmp32|alu32"):
        linker.link(compile_snippet(tmp_path, body, "-mcpu=v3"))


def test_link_fail_v4_signed_division(tmp_path):
    body = "uint64_t entrypoint(const unsigned char *in) { long long a = *(const long long *)in; return (uint64_t)(a / 3); }"
    with pytest.raises(UnsupportedOpcodeError, match="v4 signed"):
        linker.link(compile_snippet(tmp_path, body, "-mcpu=v4"))


def test_link_fail_atomics(tmp_path):
    body = "uint64_t entrypoint(unsigned char *in) { return __sync_fetch_and_add((uint64_t *)in, 1); }"
    with pytest.raises(UnsupportedOpcodeError):
        linker.link(compile_snippet(tmp_path, body))


def test_link_fail_pointer_table_relocation(tmp_path):
    body = """
static const char *const names[] = {"alpha", "beta", "gamma"};
uint64_t entrypoint(const unsigned char *in) { sol_log_(names[in[0] % 3], 4); return 0; }
"""
    with pytest.raises(UnsupportedRelocationError, match="pointer tables"):
        linker.link(compile_snippet(tmp_path, body))


def test_link_fail_not_an_object():
    with pytest.raises(LinkError, match="not an ELF"):
        linker.link(b"garbage")
