"""v0 transactions with address lookup tables over HTTP: the table is created and extended through its program,
a transaction reaches an account only the table names, and meta, history, balances and the ledger all see it."""

from __future__ import annotations

import struct

from solana.rpc.async_api import AsyncClient
from solders.address_lookup_table_account import ID as LOOKUP_TABLE_PROGRAM
from solders.address_lookup_table_account import AddressLookupTableAccount, derive_lookup_table_address
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from localnet.process import LocalnetProcess
from tests.integration.conftest import SOL
from tests.integration.test_localnet_clients import send


def create_table(authority, payer, recent_slot: int):
    table, bump = derive_lookup_table_address(authority, recent_slot)
    return table, Instruction(LOOKUP_TABLE_PROGRAM, struct.pack("<IQB", 0, recent_slot, bump), [
        AccountMeta(table, False, True), AccountMeta(authority, False, False), AccountMeta(payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False)])


def extend_table(table, authority, payer, addresses):
    data = struct.pack("<IQ", 2, len(addresses)) + b"".join(bytes(a) for a in addresses)
    return Instruction(LOOKUP_TABLE_PROGRAM, data, [
        AccountMeta(table, False, True), AccountMeta(authority, True, False), AccountMeta(payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False)])


async def test_a_v0_transaction_reaches_an_account_through_a_lookup_table(tmp_path):
    wallet, target = Keypair(), Keypair().pubkey()
    async with LocalnetProcess(ledger=tmp_path / "ledger") as net:
        client = AsyncClient(net.url)
        await client.request_airdrop(wallet.pubkey(), 10 * SOL)
        table, create = create_table(wallet.pubkey(), wallet.pubkey(), (await client.get_slot()).value)
        await send(client, [create, extend_table(table, wallet.pubkey(), wallet.pubkey(), [target, SYSTEM_PROGRAM_ID])], [wallet])
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        message = MessageV0.try_compile(wallet.pubkey(), [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=target, lamports=SOL))],
                                        [AddressLookupTableAccount(table, [target, SYSTEM_PROGRAM_ID])], blockhash)
        assert len(message.address_table_lookups) == 1 and target not in message.account_keys
        signature = (await client.send_transaction(VersionedTransaction(message, [wallet]))).value
        assert (await client.get_balance(target)).value == SOL
        tx = (await client.get_transaction(signature, max_supported_transaction_version=0)).value.transaction
        assert tx.meta.loaded_addresses.writable == [target] and tx.meta.loaded_addresses.readonly == []
        assert len(tx.meta.post_balances) == len(message.account_keys) + 1 and tx.meta.post_balances[-1] == SOL
        assert [s.signature for s in (await client.get_signatures_for_address(target)).value] == [signature]
        parsed = (await client.get_transaction(signature, "jsonParsed", max_supported_transaction_version=0)).value.transaction
        [instruction] = parsed.transaction.message.instructions
        assert instruction.parsed["info"]["destination"] == str(target)
        assert parsed.transaction.message.account_keys[-1].pubkey == target  # source: the lookup table
        await client.close()
        net.kill()
    async with LocalnetProcess(ledger=tmp_path / "ledger") as net:  # after kill -9, what the table reached was kept
        client = AsyncClient(net.url)
        assert (await client.get_balance(target)).value == SOL
        await client.close()
