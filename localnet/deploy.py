"""Deploying a program over RPC as the Solana CLI does, with the BPF Upgradeable Loader (loader-v3): write the
`.so` into a buffer in chunks, deploy it behind a program address, upgrade it from another buffer, set or drop its
upgrade authority, close buffers and programs. Works against localnet or any cluster, through solana-py.

Loader-v3 instructions are bincode: a little-endian u32 variant, then the fields (a Vec<u8> as u64 length + bytes).
"""

from __future__ import annotations

import struct

from solana.rpc.async_api import AsyncClient
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import CreateAccountParams, create_account
from solders.sysvar import CLOCK, RENT
from solders.transaction import Transaction

LOADER_V3 = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
BUFFER_METADATA = 37  # UpgradeableLoaderState::Buffer: variant + Option<authority>
PROGRAM_SIZE = 36  # UpgradeableLoaderState::Program: variant + programdata address
# A Write's data must fit a 1,232-byte transaction beside one signature, three keys, a blockhash and its own header.
WRITE_CHUNK = 1_000

INITIALIZE_BUFFER, WRITE, DEPLOY_WITH_MAX_DATA_LEN, UPGRADE, SET_AUTHORITY, CLOSE = range(6)


def programdata_address(program: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(program)], LOADER_V3)[0]


def initialize_buffer(buffer: Pubkey, authority: Pubkey) -> Instruction:
    return Instruction(LOADER_V3, struct.pack("<I", INITIALIZE_BUFFER),
                       [AccountMeta(buffer, False, True), AccountMeta(authority, False, False)])


def write(buffer: Pubkey, authority: Pubkey, offset: int, data: bytes) -> Instruction:
    return Instruction(LOADER_V3, struct.pack("<IIQ", WRITE, offset, len(data)) + data,
                       [AccountMeta(buffer, False, True), AccountMeta(authority, True, False)])


def deploy_with_max_data_len(payer: Pubkey, program: Pubkey, buffer: Pubkey, authority: Pubkey, max_data_len: int) -> Instruction:
    return Instruction(LOADER_V3, struct.pack("<IQ", DEPLOY_WITH_MAX_DATA_LEN, max_data_len), [
        AccountMeta(payer, True, True), AccountMeta(programdata_address(program), False, True), AccountMeta(program, False, True),
        AccountMeta(buffer, False, True), AccountMeta(RENT, False, False), AccountMeta(CLOCK, False, False),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False), AccountMeta(authority, True, False)])


def upgrade(program: Pubkey, buffer: Pubkey, authority: Pubkey, spill: Pubkey) -> Instruction:
    return Instruction(LOADER_V3, struct.pack("<I", UPGRADE), [
        AccountMeta(programdata_address(program), False, True), AccountMeta(program, False, True),
        AccountMeta(buffer, False, True), AccountMeta(spill, False, True), AccountMeta(RENT, False, False),
        AccountMeta(CLOCK, False, False), AccountMeta(authority, True, False)])


def set_authority(account: Pubkey, current: Pubkey, new: Pubkey | None) -> Instruction:
    """`account` is a buffer or a program's programdata; no new authority makes a program immutable."""
    accounts = [AccountMeta(account, False, True), AccountMeta(current, True, False)]
    if new is not None:
        accounts.append(AccountMeta(new, False, False))
    return Instruction(LOADER_V3, struct.pack("<I", SET_AUTHORITY), accounts)


def close(account: Pubkey, recipient: Pubkey, authority: Pubkey, program: Pubkey | None = None) -> Instruction:
    """Closes a buffer, or (with `program`) a program's programdata, sending its lamports to `recipient`."""
    accounts = [AccountMeta(account, False, True), AccountMeta(recipient, False, True), AccountMeta(authority, True, False)]
    if program is not None:
        accounts.append(AccountMeta(program, False, True))
    return Instruction(LOADER_V3, struct.pack("<I", CLOSE), accounts)


async def _send(client: AsyncClient, instructions: list[Instruction], signers: list[Keypair]) -> Signature:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction(signers, Message(instructions, signers[0].pubkey()), blockhash)
    return (await client.send_transaction(tx)).value


async def write_buffer(client: AsyncClient, payer: Keypair, so: bytes, authority: Keypair | None = None) -> Pubkey:
    """A new buffer holding `so`, its authority `authority` (the payer by default)."""
    authority = authority or payer
    buffer = Keypair()
    size = BUFFER_METADATA + len(so)
    rent = (await client.get_minimum_balance_for_rent_exemption(size)).value
    await _send(client, [create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=buffer.pubkey(), lamports=rent,
                                                            space=size, owner=LOADER_V3)),
                         initialize_buffer(buffer.pubkey(), authority.pubkey())], [payer, buffer])
    for offset in range(0, len(so), WRITE_CHUNK):
        signers = [payer] if authority == payer else [payer, authority]
        await _send(client, [write(buffer.pubkey(), authority.pubkey(), offset, so[offset:offset + WRITE_CHUNK])], signers)
    return buffer.pubkey()


async def deploy(client: AsyncClient, payer: Keypair, program: Keypair, so: bytes, authority: Keypair | None = None,
                 max_data_len: int | None = None) -> Signature:
    """Deploys `so` at `program`'s address, upgradeable by `authority` (the payer by default) up to `max_data_len`
    bytes (twice its size by default, as the Solana CLI leaves room to grow)."""
    authority = authority or payer
    buffer = await write_buffer(client, payer, so, authority)
    rent = (await client.get_minimum_balance_for_rent_exemption(PROGRAM_SIZE)).value
    signers = [payer, program] if authority == payer else [payer, program, authority]
    return await _send(client, [
        create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=program.pubkey(), lamports=rent,
                                           space=PROGRAM_SIZE, owner=LOADER_V3)),
        deploy_with_max_data_len(payer.pubkey(), program.pubkey(), buffer, authority.pubkey(), max_data_len or 2 * len(so)),
    ], signers)


async def upgrade_program(client: AsyncClient, payer: Keypair, program: Pubkey, so: bytes, authority: Keypair | None = None) -> Signature:
    """Replaces `program`'s code with `so`; the buffer's lamports return to the payer."""
    authority = authority or payer
    buffer = await write_buffer(client, payer, so, authority)
    signers = [payer] if authority == payer else [payer, authority]
    return await _send(client, [upgrade(program, buffer, authority.pubkey(), payer.pubkey())], signers)
