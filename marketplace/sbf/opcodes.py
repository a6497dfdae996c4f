"""The instruction set of SBPF v0, as its verifier accepts it.

clang's BPF backend with `-mcpu=v2` emits a subset of this; anything outside
it (jmp32, atomics, v4's signed division and sign-extending moves, `callx`
through function pointers) would be refused by the chain, so the linker
refuses it first.
"""

from __future__ import annotations

LD_DW_IMM = 0x18
CALL_IMM = 0x85
EXIT = 0x95
INSTRUCTION_SIZE = 8

_LOADS = {0x61, 0x69, 0x71, 0x79}
_STORES_IMM = {0x62, 0x6A, 0x72, 0x7A}
_STORES_REG = {0x63, 0x6B, 0x73, 0x7B}
# ALU operation codes (high nibble) valid in both the 32- and 64-bit classes:
# add sub mul div or and lsh rsh neg mod xor mov arsh.
_ALU_OPS = (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0)
_ALU32 = {op | src | 0x04 for op in _ALU_OPS for src in (0x00, 0x08)} | {0xD4, 0xDC}  # + le/be
_ALU64 = {op | src | 0x07 for op in _ALU_OPS for src in (0x00, 0x08)}
# ja, then jeq jgt jge jset jne jsgt jsge jlt jle jslt jsle with imm or register.
_JUMPS = {0x05} | {op | src | 0x05 for op in (0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0) for src in (0x00, 0x08)}

ALLOWED = _LOADS | _STORES_IMM | _STORES_REG | _ALU32 | _ALU64 | _JUMPS | {LD_DW_IMM, CALL_IMM, EXIT}
ALU_OPCODES = _ALU32 | _ALU64

_CLASS_NAMES = {0: "ld", 1: "ldx", 2: "st", 3: "stx", 4: "alu32", 5: "jmp", 6: "jmp32", 7: "alu64"}


def describe(opcode: int) -> str:
    return f"opcode 0x{opcode:02x} (class {_CLASS_NAMES[opcode & 7]})"
