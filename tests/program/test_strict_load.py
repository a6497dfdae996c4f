"""The shipped .so passes the loader a real cluster runs on deployment.

`add_program` is lenient (it accepts unknown syscalls). The BPF Upgradeable
Loader's Upgrade instruction runs the strict ELF loader and the verifier, as
a deployment to a cluster does, so the test deploys through it.
"""

from __future__ import annotations

import struct

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import CLOCK, RENT

from marketplace.chain import market_address, program_so
from marketplace.chain import instructions as ix
from tests.program.conftest import SOL, TREASURY, config

UPGRADEABLE_LOADER = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
# UpgradeableLoaderState tags (bincode u32) and the Upgrade instruction's tag.
BUFFER, PROGRAM, PROGRAM_DATA = 1, 2, 3
UPGRADE = 3


def plant_and_upgrade(runtime, so: bytes):
    """Plants an upgradeable program, then upgrades it to `so` through the strict path."""
    svm = runtime.svm
    authority = Keypair()
    runtime.airdrop(authority.pubkey(), 10 * SOL)
    program_id = Keypair().pubkey()
    program_data, _ = Pubkey.find_program_address([bytes(program_id)], UPGRADEABLE_LOADER)
    some_authority = b"\x01" + bytes(authority.pubkey())

    planted = struct.pack("<IQ", PROGRAM_DATA, 0) + some_authority + program_so()
    svm.set_account(program_data, Account(runtime.rent_exempt_minimum(len(planted)), planted, UPGRADEABLE_LOADER, False, 0))
    program = struct.pack("<I", PROGRAM) + bytes(program_data)
    svm.set_account(program_id, Account(runtime.rent_exempt_minimum(len(program)), program, UPGRADEABLE_LOADER, True, 0))
    svm.warp_to_slot(svm.get_clock().slot + 10)

    buffer = Keypair().pubkey()
    buffer_data = struct.pack("<I", BUFFER) + some_authority + so
    svm.set_account(buffer, Account(runtime.rent_exempt_minimum(len(buffer_data)), buffer_data, UPGRADEABLE_LOADER, False, 0))
    upgrade = Instruction(
        UPGRADEABLE_LOADER,
        struct.pack("<I", UPGRADE),
        [
            AccountMeta(program_data, False, True),
            AccountMeta(program_id, False, True),
            AccountMeta(buffer, False, True),
            AccountMeta(authority.pubkey(), False, True),  # spill: receives the buffer's lamports
            AccountMeta(RENT, False, False),
            AccountMeta(CLOCK, False, False),
            AccountMeta(authority.pubkey(), True, False),
        ],
    )
    outcome = runtime.send([upgrade], [authority])
    svm.warp_to_slot(svm.get_clock().slot + 10)
    return outcome, program_id


def test_shipped_program_deploys_through_the_strict_loader_and_runs(runtime, funded):
    outcome, program_id = plant_and_upgrade(runtime, program_so())
    assert outcome.ok, "\n".join(outcome.logs)

    authority = funded()
    market, _ = market_address(authority.pubkey(), program_id)
    initialize = ix.build_instruction(
        "initialize_market",
        {"config": config(authority.pubkey()).to_idl()},
        {"authority": authority.pubkey(), "market": market, "treasury": TREASURY, "system_program": SYSTEM_PROGRAM_ID},
        program_id=program_id,
    )
    result = runtime.send([initialize], [authority])
    assert result.ok, "\n".join(result.logs)
    assert runtime.account(market).owner == program_id


def test_program_with_unknown_syscall_fails_the_strict_loader(runtime):
    so = program_so()
    assert b"sol_log_data\0" in so
    broken = so.replace(b"sol_log_data\0", b"sol_log_dat4\0")
    outcome, _ = plant_and_upgrade(runtime, broken)
    assert not outcome.ok
    assert any("Unresolved symbol (sol_log_dat4)" in line for line in outcome.logs), outcome.logs
