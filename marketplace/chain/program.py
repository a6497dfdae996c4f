"""The Tessera program as clients see it: its id, IDL, `.so` and PDAs.

The IDL (programs/tessera/idl/tessera.json, shipped beside this module) is
the single source of truth for every layout; nothing here restates one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

if TYPE_CHECKING:
    from anchorpy import Idl
    from anchorpy.coder.coder import Coder

IDL_PATH = Path(__file__).with_name("tessera.json")
SO_PATH = Path(__file__).with_name("tessera.so")


@cache
def idl_json() -> dict:
    return json.loads(IDL_PATH.read_text())


# anchorpy is imported where it is first needed: importing it takes ~0.3 s, which localnet's startup need not pay
# (it uses the program's id and bytes, never its coder).


@cache
def idl() -> Idl:
    from anchorpy import Idl

    return Idl.from_json(IDL_PATH.read_text())


@cache
def coder() -> Coder:
    from anchorpy.coder.coder import Coder

    return Coder(idl())


@cache
def account_size(name: str) -> int:
    """Bytes of an IDL account ("Market", "Job", ...), discriminator included: the program's layout, never restated."""
    from marketplace.sbf.idl_header import account_layouts

    return account_layouts(idl_json())[name].size


def program_so() -> bytes:
    """The compiled program shipped in the package: no compiler needed to run a market."""
    return SO_PATH.read_bytes()


PROGRAM_ID = Pubkey.from_string(idl_json()["metadata"]["address"])


def market_address(authority: Pubkey, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"market", bytes(authority)], program_id)


def provider_address(market: Pubkey, owner: Pubkey, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"provider", bytes(market), bytes(owner)], program_id)


def job_address(market: Pubkey, job_id: int, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"job", bytes(market), job_id.to_bytes(8, "little")], program_id)


def assignment_address(job: Pubkey, provider: Pubkey, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"assignment", bytes(job), bytes(provider)], program_id)


def channel_address(market: Pubkey, owner: Pubkey, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"channel", bytes(market), bytes(owner)], program_id)


def epoch_address(job: Pubkey, program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"epoch", bytes(job)], program_id)
