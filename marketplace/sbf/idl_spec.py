"""The Anchor 0.30+ IDL (spec 0.1.0) of the program, derived from the legacy IDL anchorpy reads.

One source (programs/tessera/idl/tessera.json), two formats: current Anchor clients (`@coral-xyz/anchor`
0.30+, codama) read `tessera.anchor.json`, which names everything in snake_case, spells out every
discriminator, the program's address and its metadata, and keeps account and event layouts in `types`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from marketplace.sbf.idl_header import snake_case

SPEC = "0.1.0"


def _discriminator(namespace: str, name: str) -> list[int]:
    return list(hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8])


def _type(legacy: Any) -> Any:
    if legacy == "publicKey":
        return "pubkey"
    if isinstance(legacy, str):
        return legacy
    if "defined" in legacy:
        return {"defined": {"name": legacy["defined"]}}
    if "array" in legacy:
        inner, length = legacy["array"]
        return {"array": [_type(inner), length]}
    key = next(iter(legacy))  # vec | option
    return {key: _type(legacy[key])}


def _fields(fields: list[dict]) -> list[dict]:
    return [{"name": snake_case(f["name"]), **({"docs": f["docs"]} if f.get("docs") else {}), "type": _type(f["type"])}
            for f in fields]


def _typedef(name: str, body: dict, docs: list[str] | None = None) -> dict:
    if body["kind"] == "struct":
        shape = {"kind": "struct", "fields": _fields(body["fields"])}
    else:
        shape = {"kind": "enum", "variants": [{"name": v["name"]} for v in body["variants"]]}
    return {"name": name, **({"docs": docs} if docs else {}), "type": shape}


def anchor_idl(legacy: dict) -> dict:
    """The spec-0.1.0 document of a legacy IDL."""
    instructions = [{
        "name": snake_case(ix["name"]),
        **({"docs": ix["docs"]} if ix.get("docs") else {}),
        "discriminator": _discriminator("global", snake_case(ix["name"])),
        "accounts": [{"name": snake_case(a["name"]), **({"docs": a["docs"]} if a.get("docs") else {}),
                      **({"writable": True} if a["isMut"] else {}), **({"signer": True} if a["isSigner"] else {})}
                     for a in ix["accounts"]],
        "args": _fields(ix["args"]),
    } for ix in legacy["instructions"]]
    types = [_typedef(a["name"], a["type"], a.get("docs")) for a in legacy["accounts"]]
    types += [_typedef(e["name"], {"kind": "struct", "fields": e["fields"]}) for e in legacy["events"]]
    types += [_typedef(t["name"], t["type"], t.get("docs")) for t in legacy["types"]]
    return {
        "address": legacy["metadata"]["address"],
        "metadata": {"name": legacy["name"], "version": legacy["version"], "spec": SPEC,
                     "description": " ".join(legacy.get("docs", []))},
        "instructions": instructions,
        "accounts": [{"name": a["name"], "discriminator": _discriminator("account", a["name"])} for a in legacy["accounts"]],
        "events": [{"name": e["name"], "discriminator": _discriminator("event", e["name"])} for e in legacy["events"]],
        "errors": [{"code": e["code"], "name": e["name"], "msg": e["msg"]} for e in legacy["errors"]],
        "types": types,
    }


def write_anchor_idl(legacy_path: Path, out: Path) -> bool:
    """Writes the spec-0.1.0 IDL beside the legacy one; True if it changed."""
    text = json.dumps(anchor_idl(json.loads(legacy_path.read_text())), indent=2) + "\n"
    if out.exists() and out.read_text() == text:
        return False
    out.write_text(text)
    return True
