"""Generates the program's C header from the Anchor IDL.

The IDL is the single source of truth: discriminators, account and argument
layouts, event layouts and error codes all come from it. Every struct is laid
out so that its Borsh encoding and its C layout coincide (fields naturally
aligned, no holes), which lets the program read account bytes in place. A
layout that cannot coincide is rejected here with the field to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from marketplace.sbf.errors import IdlLayoutError

GENERATOR = "marketplace.sbf.idl_header"

# (C type, size, alignment). Public keys are aligned to 8 so the program
# compares them as four 64-bit words.
_PRIMITIVES: dict[str, tuple[str, int, int]] = {
    "u8": ("uint8_t", 1, 1),
    "i8": ("int8_t", 1, 1),
    "bool": ("uint8_t", 1, 1),
    "u16": ("uint16_t", 2, 2),
    "i16": ("int16_t", 2, 2),
    "u32": ("uint32_t", 4, 4),
    "i32": ("int32_t", 4, 4),
    "u64": ("uint64_t", 8, 8),
    "i64": ("int64_t", 8, 8),
    "publicKey": ("SolPubkey", 32, 8),
}


_C_PRIMITIVE_TYPES = {c_type for c_type, _, _ in _PRIMITIVES.values()}


@dataclass(frozen=True)
class Field:
    name: str  # snake_case, as C and anchorpy's Python names spell it
    c_type: str
    array_len: int | None
    offset: int
    size: int
    align: int


@dataclass(frozen=True)
class Layout:
    name: str
    fields: tuple[Field, ...]
    size: int  # Borsh size: what the account, argument or event occupies
    align: int


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def upper_snake(name: str) -> str:
    return snake_case(name).upper()


def discriminator(namespace: str, name: str) -> bytes:
    """Anchor's discriminator: the first 8 bytes of sha256("<namespace>:<name>")."""
    return hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8]


def _u64_literal(disc: bytes) -> str:
    return f"0x{int.from_bytes(disc, 'little'):016x}ULL"


class _Layouts:
    """Resolves IDL types to C layouts, checking that Borsh and C agree."""

    def __init__(self, idl: dict) -> None:
        self._types = {t["name"]: t["type"] for t in idl.get("types", [])}
        self.structs: dict[str, Layout] = {}

    def type_of(self, ty: object, where: str) -> tuple[str, int | None, int, int]:
        if isinstance(ty, str):
            if ty not in _PRIMITIVES:
                raise IdlLayoutError(f"{where}: type {ty!r} has no fixed size; the program reads only fixed-size layouts")
            c_type, size, align = _PRIMITIVES[ty]
            return c_type, None, size, align
        if isinstance(ty, dict) and "array" in ty:
            inner, count = ty["array"]
            c_type, nested, size, align = self.type_of(inner, where)
            if nested is not None:
                raise IdlLayoutError(f"{where}: nested arrays are not supported")
            return c_type, int(count), size * int(count), align
        if isinstance(ty, dict) and "defined" in ty:
            name = ty["defined"]
            if name not in self._types:
                raise IdlLayoutError(f"{where}: undefined type {name!r}")
            definition = self._types[name]
            if definition["kind"] == "enum":
                if any(v.get("fields") for v in definition["variants"]):
                    raise IdlLayoutError(f"{where}: enum {name} has variants with data")
                return "uint8_t", None, 1, 1
            layout = self.struct(name, definition["fields"], base=0)
            return name, None, layout.size, layout.align
        raise IdlLayoutError(f"{where}: unsupported type {ty!r}")

    def struct(self, name: str, idl_fields: list[dict], base: int) -> Layout:
        """Lays out fields starting at `base` bytes (8 after a discriminator)."""
        if base == 0 and name in self.structs:
            return self.structs[name]
        offset, max_align, fields = base, 8 if base else 1, []
        for index, item in enumerate(idl_fields):
            where = f"{name}.{item['name']}"
            if isinstance(item["type"], dict) and "vec" in item["type"]:
                # Borsh: u32 length, then the items. Only a trailing vec keeps
                # every other field at a fixed offset.
                if index + 1 < len(idl_fields):
                    raise IdlLayoutError(f"{where}: a vec must be the last field")
                c_type, count, item_size, align = self.type_of(item["type"]["vec"], where)
                if count is not None or offset % 4 or (offset + 4) % align:
                    raise IdlLayoutError(f"{where}: vec items must be structs or scalars at aligned offsets")
                field_name = snake_case(item["name"])
                fields.append(Field(f"{field_name}_len", "uint32_t", None, offset, 4, 4))
                fields.append(Field(field_name, c_type, 0, offset + 4, item_size, align))
                offset += 4
                max_align = max(max_align, align, 4)
                continue
            c_type, count, size, align = self.type_of(item["type"], where)
            # C pads a nested struct to its alignment, Borsh does not: only the
            # last field may be a struct whose size is not a multiple of it.
            if c_type not in _C_PRIMITIVE_TYPES and size % align and index + 1 < len(idl_fields):
                raise IdlLayoutError(f"{where}: struct {c_type} is {size} bytes, not a multiple of {align}, and is not the last field")
            if offset % align:
                raise IdlLayoutError(
                    f"{where} sits at byte {offset}, not a multiple of its alignment {align}: "
                    "reorder the fields or add padding in the IDL"
                )
            fields.append(Field(snake_case(item["name"]), c_type, count, offset, size, align))
            offset += size
            max_align = max(max_align, align)
        layout = Layout(name, tuple(fields), offset, max_align)
        if base == 0:
            self.structs[name] = layout
        return layout


def _struct_c(type_name: str, layout: Layout, leading_discriminator: bool) -> list[str]:
    lines = ["typedef struct {"]
    if leading_discriminator:
        lines.append("  uint64_t discriminator;")
    for f in layout.fields:
        suffix = "" if f.array_len is None else f"[{f.array_len or ''}]"
        lines.append(f"  {f.c_type} {f.name}{suffix};")
    lines.append(f"}} {type_name};")
    for f in layout.fields:
        lines.append(f"_Static_assert(offsetof({type_name}, {f.name}) == {f.offset}, \"{type_name}.{f.name}\");")
    return lines


def account_layouts(idl: dict) -> dict[str, Layout]:
    """Each account's layout, discriminator included, as the header lays it out."""
    layouts = _Layouts(idl)
    return {a["name"]: layouts.struct(a["name"], a["type"]["fields"], base=8) for a in idl["accounts"]}


def generate_header(idl: dict) -> str:
    layouts = _Layouts(idl)
    out = [
        f"/* Generated from idl/tessera.json by {GENERATOR}. Do not edit: */",
        "/* change the IDL and run `tessera program build`. */",
        "#pragma once",
        '#include "tessera/sol.h"',
        "",
        "/* Errors: custom program error codes. */",
    ]
    for err in idl["errors"]:
        out.append(f"#define ERR_{upper_snake(err['name'])} {err['code']} /* {err['msg']} */")

    out += ["", "/* Enums: Borsh encodes a unit variant as its index in one byte. */"]
    for t in idl.get("types", []):
        if t["type"]["kind"] == "enum":
            prefix = upper_snake(t["name"])
            for index, variant in enumerate(t["type"]["variants"]):
                out.append(f"#define {prefix}_{upper_snake(variant['name'])} {index}")
            out.append(f"#define {prefix}_COUNT {len(t['type']['variants'])}")

    out += ["", "/* Types shared by accounts and arguments. */"]
    for t in idl.get("types", []):
        if t["type"]["kind"] == "struct":
            layout = layouts.struct(t["name"], t["type"]["fields"], base=0)
            out += _struct_c(t["name"], layout, leading_discriminator=False)
            out.append(f"#define {upper_snake(t['name'])}_LEN {layout.size}")
            out.append("")

    out += ["/* Accounts: discriminator = sha256(\"account:<Name>\")[:8] as a little-endian u64. */"]
    for account in idl["accounts"]:
        name = account["name"]
        layout = layouts.struct(name, account["type"]["fields"], base=8)
        if layout.size % 8:
            raise IdlLayoutError(f"account {name} is {layout.size} bytes; pad it to a multiple of 8")
        out.append(f"#define {upper_snake(name)}_DISCRIMINATOR {_u64_literal(discriminator('account', name))}")
        out.append(f"#define {upper_snake(name)}_LEN {layout.size}")
        out += _struct_c(name, layout, leading_discriminator=True)
        out.append(f"_Static_assert(sizeof({name}) == {upper_snake(name)}_LEN, \"{name} size\");")
        out.append("")

    out += ["/* Instructions: discriminator = sha256(\"global:<snake_name>\")[:8]; data = discriminator + Borsh args. */"]
    for ix in idl["instructions"]:
        snake = snake_case(ix["name"])
        camel = ix["name"][0].upper() + ix["name"][1:]
        layout = layouts.struct(f"{camel}Args", ix["args"], base=8)
        out.append(f"#define IX_{snake.upper()} {_u64_literal(discriminator('global', snake))}")
        out.append(f"#define {snake.upper()}_ACCOUNTS {len(ix['accounts'])}")
        out.append(f"#define {snake.upper()}_DATA_LEN {layout.size}")
        for f in layout.fields:
            if f.array_len == 0:  # a trailing vec: DATA_LEN is its fixed prefix
                out.append(f"#define {snake.upper()}_{f.name.upper()}_ITEM_LEN {f.size}")
        out += _struct_c(f"{camel}Args", layout, leading_discriminator=True)
        out.append("")

    out += ["/* Events: logged with sol_log_data as discriminator (sha256(\"event:<Name>\")[:8]) + Borsh. */"]
    for event in idl.get("events", []):
        name = event["name"]
        layout = layouts.struct(f"{name}Event", event["fields"], base=8)
        out.append(f"#define EVENT_{upper_snake(name)}_DISCRIMINATOR {_u64_literal(discriminator('event', name))}")
        out.append(f"#define EVENT_{upper_snake(name)}_LEN {layout.size}")
        out += _struct_c(f"{name}Event", layout, leading_discriminator=True)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_header(idl_path: Path, header_path: Path) -> bool:
    """Regenerates the header; returns whether its content changed."""
    text = generate_header(json.loads(idl_path.read_text()))
    if header_path.exists() and header_path.read_text() == text:
        return False
    header_path.write_text(text)
    return True
