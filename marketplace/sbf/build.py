"""Builds the on-chain program: IDL -> C header, clang-19 -> BPF object, link -> SBPF v0 `.so`.

The build is reproducible: without debug info and with one translation unit,
the same sources give the same bytes on any machine with Debian's clang-19,
so anyone can check that the shipped `.so` is what the sources say.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from marketplace.chain.program import SO_PATH
from marketplace.sbf.errors import CompilerError, SbfBuildError
from marketplace.sbf.idl_header import write_header
from marketplace.sbf.idl_spec import write_anchor_idl
from marketplace.sbf.linker import link

CLANG = "clang-19"
# Why each flag: SBPF v0 runs the v2 instruction set (no jmp32/alu32 sign
# extension); frames are 4 KiB (never more: frames are not guarded); no jump
# tables or unwind tables (no indirect jumps, no .eh_frame to map); no debug
# info and no absolute paths, so the output is byte-for-byte reproducible.
CLANG_FLAGS = (
    "-target", "bpfel", "-mcpu=v2", "-O2",
    "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-jump-tables",
    "-g0", "-Wall", "-Werror",
    "-mllvm", "-bpf-stack-size=4096",
)


@dataclass(frozen=True)
class ProgramSources:
    root: Path

    @property
    def idl(self) -> Path:
        return self.root / "idl" / "tessera.json"

    @property
    def anchor_idl(self) -> Path:
        return self.root / "idl" / "tessera.anchor.json"

    @property
    def header(self) -> Path:
        return self.root / "include" / "tessera" / "idl.h"

    @property
    def unit(self) -> Path:
        return self.root / "src" / "program.c"


@dataclass(frozen=True)
class BuildResult:
    so_path: Path
    size: int
    sha256: str
    header_changed: bool


def default_sources() -> ProgramSources:
    root = Path(__file__).resolve().parents[2] / "programs" / "tessera"
    if not (root / "src" / "program.c").exists():
        raise SbfBuildError(f"program sources not found at {root}: build from a source checkout of Tessera")
    return ProgramSources(root)


def compile_object(sources: ProgramSources, clang: str = CLANG, extra_flags: tuple[str, ...] = ()) -> bytes:
    """Compiles the program's single translation unit to a BPF object.

    `extra_flags` come last, so they override the defaults (tests use this to
    produce what the linker must refuse)."""
    if shutil.which(clang) is None:
        raise CompilerError(f"{clang} not found; install it with: apt-get install -y {clang}")
    with tempfile.TemporaryDirectory(prefix="tessera-build-") as tmp:
        obj = Path(tmp) / "program.o"
        cmd = [clang, *CLANG_FLAGS, "-I", "include", "-I", "src", "-c", "src/program.c", "-o", str(obj), *extra_flags]
        proc = subprocess.run(cmd, cwd=sources.root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CompilerError(f"{clang} failed:\n{proc.stderr.strip()}")
        return obj.read_bytes()


def build_program(sources: ProgramSources | None = None, out: Path = SO_PATH, clang: str = CLANG) -> BuildResult:
    """Regenerates the header and the Anchor 0.30+ IDL from the IDL, compiles, links, writes `out`."""
    sources = sources or default_sources()
    header_changed = write_header(sources.idl, sources.header)
    write_anchor_idl(sources.idl, sources.anchor_idl)
    so = link(compile_object(sources, clang))
    out.write_bytes(so)
    return BuildResult(out, len(so), hashlib.sha256(so).hexdigest(), header_changed)
