"""Links clang's relocatable BPF object into an SBPF v0 shared object.

What the Solana loader accepts (see shared/sbf-notes.md): an ET_DYN ELF for
EM_BPF with e_flags 0, sections mapped at 0x1_0000_0000 + file offset
(`sh_addr == sh_offset`), exactly one `.text`, one `.rodata`, and syscalls
left as `call -1` with a dynamic `R_BPF_64_32` relocation naming them; the
loader writes murmur3(name) into each. Addresses of read-only data are
resolved here, in place, so no other dynamic relocation is needed.

The output depends only on the object's bytes: no timestamps, no paths.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from marketplace.sbf import opcodes
from marketplace.sbf.errors import (
    LinkError,
    MissingEntrypointError,
    UnknownSyscallError,
    UnsupportedOpcodeError,
    UnsupportedRelocationError,
    WritableDataError,
)
from marketplace.sbf.syscalls import KNOWN_SYSCALLS

EM_BPF = 247
ET_DYN = 3
R_BPF_64_64 = 1  # lddw of an address
R_BPF_64_32 = 10  # call of a named function
MM_PROGRAM_START = 0x1_0000_0000

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_DYNAMIC, SHT_REL, SHT_DYNSYM = 1, 2, 3, 6, 9, 11
PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W, PF_R = 1, 2, 4
DT_NULL, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_REL, DT_RELSZ, DT_RELENT = 0, 5, 6, 10, 11, 17, 18, 19
STB_GLOBAL, STT_NOTYPE, STT_FUNC = 1, 0, 2

EHDR_SIZE, PHDR_SIZE, SHDR_SIZE, SYM_SIZE, REL_SIZE, DYN_SIZE = 64, 56, 64, 24, 16, 16
ENTRYPOINT = "entrypoint"


@dataclass
class _Object:
    """What the linker takes from the relocatable object."""

    text: bytearray
    text_index: int
    rodata_parts: list[tuple[int, bytes, int]]  # (section index, bytes, alignment)
    symbols: list  # pyelftools symbols of .symtab, by index
    relocations: list[tuple[int, int, int]]  # (offset in .text, type, symbol index)
    entry_offset: int


@dataclass
class _Image:
    """The read-only image before the ELF wrapper is written."""

    text: bytearray
    rodata: bytearray = field(default_factory=bytearray)
    rodata_base: dict[int, int] = field(default_factory=dict)  # section index -> offset in rodata
    syscall_sites: list[tuple[int, str]] = field(default_factory=list)  # (.text offset, name)


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _read_object(data: bytes) -> _Object:
    try:
        elf = ELFFile(io.BytesIO(data))
    except ELFError as exc:
        raise LinkError(f"not an ELF object: {exc}") from exc
    if elf["e_machine"] != "EM_BPF" or elf.little_endian is not True or elf.elfclass != 64:
        raise LinkError("not a 64-bit little-endian BPF object (compile with clang-19 -target bpfel)")
    if elf["e_type"] != "ET_REL":
        raise LinkError("expected a relocatable object (.o), not a linked file")

    text_index, text, rodata_parts = None, None, []
    for index, section in enumerate(elf.iter_sections()):
        flags = section["sh_flags"]
        if not flags & SHF_ALLOC or section["sh_size"] == 0:
            continue
        if flags & SHF_WRITE:
            symbols = _symbols_in(elf, index)
            raise WritableDataError(
                f"writable section {section.name} ({', '.join(symbols) or 'anonymous data'}): the program "
                "image is read-only; make globals `static const` or move state into accounts"
            )
        if flags & SHF_EXECINSTR:
            if text is not None:
                raise LinkError(f"more than one code section ({section.name}); do not use -ffunction-sections")
            text_index, text = index, bytearray(section.data())
        else:
            rodata_parts.append((index, section.data(), max(section["sh_addralign"], 1)))
    if text is None:
        raise LinkError("the object has no code section")

    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        raise LinkError("the object has no symbol table")
    symbols = list(symtab.iter_symbols())
    entry = next(
        (s for s in symbols if s.name == ENTRYPOINT and s["st_info"]["type"] == "STT_FUNC"
         and s["st_info"]["bind"] == "STB_GLOBAL" and s["st_shndx"] == text_index),
        None,
    )
    if entry is None:
        raise MissingEntrypointError("no global function `entrypoint` in the code section")

    relocations = []
    for section in elf.iter_sections():
        if section["sh_type"] == "SHT_RELA":
            raise UnsupportedRelocationError(f"{section.name}: RELA relocations are not produced by the BPF backend")
        if section["sh_type"] != "SHT_REL":
            continue
        if section["sh_info"] != text_index:
            target = elf.get_section(section["sh_info"])
            raise UnsupportedRelocationError(
                f"relocations in {target.name}: read-only data may not hold addresses (no pointer tables)"
            )
        for rel in section.iter_relocations():
            relocations.append((rel["r_offset"], rel["r_info_type"], rel["r_info_sym"]))
    return _Object(text, text_index, rodata_parts, symbols, relocations, entry["st_value"])


def _symbols_in(elf: ELFFile, section_index: int) -> list[str]:
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        return []
    return [s.name for s in symtab.iter_symbols() if s["st_shndx"] == section_index and s.name]


def _check_opcodes(text: bytes) -> None:
    if len(text) % opcodes.INSTRUCTION_SIZE:
        raise LinkError("code section size is not a multiple of 8")
    offset = 0
    while offset < len(text):
        opcode, _regs, insn_offset, _imm = struct.unpack_from("<BBhi", text, offset)
        if opcode not in opcodes.ALLOWED:
            raise UnsupportedOpcodeError(
                f"{opcodes.describe(opcode)} at .text+0x{offset:x} is not in SBPF v0; compile with -mcpu=v2"
            )
        if opcode in opcodes.ALU_OPCODES and insn_offset != 0:
            raise UnsupportedOpcodeError(
                f"{opcodes.describe(opcode)} with offset {insn_offset} at .text+0x{offset:x} is a v4 signed "
                "operation, not in SBPF v0; compile with -mcpu=v2"
            )
        offset += 2 * opcodes.INSTRUCTION_SIZE if opcode == opcodes.LD_DW_IMM else opcodes.INSTRUCTION_SIZE


def _layout_rodata(obj: _Object) -> _Image:
    image = _Image(text=obj.text)
    for index, data, alignment in obj.rodata_parts:
        start = _align(len(image.rodata), alignment)
        image.rodata.extend(b"\0" * (start - len(image.rodata)))
        image.rodata_base[index] = start
        image.rodata.extend(data)
    return image


def _apply_relocations(obj: _Object, image: _Image, rodata_offset: int) -> None:
    for offset, rel_type, sym_index in obj.relocations:
        symbol = obj.symbols[sym_index]
        opcode = image.text[offset]
        if rel_type == R_BPF_64_64 and opcode == opcodes.LD_DW_IMM:
            section = symbol["st_shndx"]
            if section not in image.rodata_base:
                raise UnsupportedRelocationError(
                    f"address of {symbol.name or 'a section'} at .text+0x{offset:x}: only read-only data can be addressed"
                )
            addend = struct.unpack_from("<i", image.text, offset + 4)[0]
            address = MM_PROGRAM_START + rodata_offset + image.rodata_base[section] + symbol["st_value"] + addend
            struct.pack_into("<I", image.text, offset + 4, address & 0xFFFFFFFF)
            struct.pack_into("<I", image.text, offset + 12, address >> 32)
        elif rel_type == R_BPF_64_32 and opcode == opcodes.CALL_IMM:
            if symbol["st_shndx"] != "SHN_UNDEF":
                raise UnsupportedRelocationError(
                    f"call to {symbol.name} at .text+0x{offset:x} crosses sections; build one translation unit"
                )
            if symbol.name not in KNOWN_SYSCALLS:
                raise UnknownSyscallError(
                    f"call to undefined function {symbol.name!r} at .text+0x{offset:x}: not a Solana syscall"
                )
            struct.pack_into("<i", image.text, offset + 4, -1)
            image.syscall_sites.append((offset, symbol.name))
        else:
            raise UnsupportedRelocationError(
                f"relocation type {rel_type} on {opcodes.describe(opcode)} at .text+0x{offset:x} "
                f"(symbol {symbol.name or sym_index})"
            )


def _strtab(names: list[str]) -> tuple[bytes, dict[str, int]]:
    table, offsets = bytearray(b"\0"), {}
    for name in names:
        offsets[name] = len(table)
        table += name.encode() + b"\0"
    return bytes(table), offsets


PROGRAM_HEADER_COUNT = 4
TEXT_OFFSET = _align(EHDR_SIZE + PROGRAM_HEADER_COUNT * PHDR_SIZE, 8)


def _rodata_offset(text_size: int) -> int:
    """.rodata follows .text; relocation never changes the code's size."""
    return _align(TEXT_OFFSET + text_size, 8)


def _write_elf(image: _Image, entry_offset: int) -> bytes:
    syscalls = sorted({name for _, name in image.syscall_sites})
    dynstr, dynstr_offsets = _strtab([ENTRYPOINT, *syscalls])
    shstrtab, shstr_offsets = _strtab([".text", ".rodata", ".dynamic", ".dynsym", ".dynstr", ".rel.dyn", ".shstrtab"])
    text_off, rodata_off = TEXT_OFFSET, _rodata_offset(len(image.text))
    dynamic_off = _align(rodata_off + len(image.rodata), 8)
    dynamic_count = 8
    dynsym_off = dynamic_off + dynamic_count * DYN_SIZE
    symbol_index = {name: 2 + i for i, name in enumerate(syscalls)}
    dynsym = bytearray(SYM_SIZE)  # index 0: the null symbol
    dynsym += struct.pack(
        "<IBBHQQ", dynstr_offsets[ENTRYPOINT], (STB_GLOBAL << 4) | STT_FUNC, 0, 1, text_off + entry_offset, 0
    )
    for name in syscalls:
        dynsym += struct.pack("<IBBHQQ", dynstr_offsets[name], (STB_GLOBAL << 4) | STT_NOTYPE, 0, 0, 0, 0)
    dynstr_off = dynsym_off + len(dynsym)
    rel_off = _align(dynstr_off + len(dynstr), 8)
    rel = bytearray()
    for site, name in sorted(image.syscall_sites):
        rel += struct.pack("<QQ", text_off + site, (symbol_index[name] << 32) | R_BPF_64_32)
    shstrtab_off = rel_off + len(rel)
    shdr_off = _align(shstrtab_off + len(shstrtab), 8)

    out = bytearray(shdr_off + 8 * SHDR_SIZE)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into(
        "<16sHHIQQQIHHHHHH", out, 0, ident, ET_DYN, EM_BPF, 1, text_off + entry_offset, EHDR_SIZE, shdr_off,
        0, EHDR_SIZE, PHDR_SIZE, PROGRAM_HEADER_COUNT, SHDR_SIZE, 8, 7,
    )
    rodata_end = rodata_off + len(image.rodata)
    phdrs = [
        (PT_LOAD, PF_R | PF_X, text_off, len(image.text), 8),
        (PT_LOAD, PF_R, rodata_off, len(image.rodata), 8),
        # The dynamic tables are loaded too, so their addresses resolve.
        (PT_LOAD, PF_R | PF_W, dynamic_off, shstrtab_off - dynamic_off, 8),
        (PT_DYNAMIC, PF_R | PF_W, dynamic_off, dynamic_count * DYN_SIZE, 8),
    ]
    for i, (p_type, flags, offset, size, align) in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", out, EHDR_SIZE + i * PHDR_SIZE, p_type, flags, offset, offset, offset, size, size, align)

    out[text_off:text_off + len(image.text)] = image.text
    out[rodata_off:rodata_end] = image.rodata
    dynamic = [
        (DT_SYMTAB, dynsym_off), (DT_STRTAB, dynstr_off), (DT_STRSZ, len(dynstr)), (DT_SYMENT, SYM_SIZE),
        (DT_REL, rel_off), (DT_RELSZ, len(rel)), (DT_RELENT, REL_SIZE), (DT_NULL, 0),
    ]
    for i, (tag, value) in enumerate(dynamic):
        struct.pack_into("<QQ", out, dynamic_off + i * DYN_SIZE, tag, value)
    out[dynsym_off:dynsym_off + len(dynsym)] = dynsym
    out[dynstr_off:dynstr_off + len(dynstr)] = dynstr
    out[rel_off:rel_off + len(rel)] = rel
    out[shstrtab_off:shstrtab_off + len(shstrtab)] = shstrtab

    sections = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0),
        (shstr_offsets[".text"], SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text_off, len(image.text), 0, 0, 8, 0),
        (shstr_offsets[".rodata"], SHT_PROGBITS, SHF_ALLOC, rodata_off, len(image.rodata), 0, 0, 8, 0),
        (shstr_offsets[".dynamic"], SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dynamic_off, dynamic_count * DYN_SIZE, 5, 0, 8, DYN_SIZE),
        (shstr_offsets[".dynsym"], SHT_DYNSYM, SHF_ALLOC, dynsym_off, len(dynsym), 5, 1, 8, SYM_SIZE),
        (shstr_offsets[".dynstr"], SHT_STRTAB, SHF_ALLOC, dynstr_off, len(dynstr), 0, 0, 1, 0),
        (shstr_offsets[".rel.dyn"], SHT_REL, SHF_ALLOC, rel_off, len(rel), 4, 0, 8, REL_SIZE),
        (shstr_offsets[".shstrtab"], SHT_STRTAB, 0, shstrtab_off, len(shstrtab), 0, 0, 1, 0),
    ]
    for i, (name, sh_type, flags, offset, size, link, info, align, entsize) in enumerate(sections):
        addr = offset if flags & SHF_ALLOC else 0
        struct.pack_into("<IIQQQQIIQQ", out, shdr_off + i * SHDR_SIZE, name, sh_type, flags, addr, offset, size,
                         link, info, align, entsize)
    return bytes(out)


def link(object_bytes: bytes) -> bytes:
    """Returns the SBPF v0 `.so` for a relocatable object, or raises LinkError."""
    obj = _read_object(object_bytes)
    _check_opcodes(obj.text)
    image = _layout_rodata(obj)
    _apply_relocations(obj, image, _rodata_offset(len(image.text)))
    return _write_elf(image, obj.entry_offset)
