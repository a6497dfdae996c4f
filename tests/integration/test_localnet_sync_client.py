"""solana-py's synchronous Client against localnet running as its own process."""

from __future__ import annotations

from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from localnet.process import LocalnetProcess
from tests.integration.conftest import SOL


async def test_sync_client_transfers_and_confirms():
    async with LocalnetProcess() as net:
        client = Client(net.url)
        payer, payee = Keypair(), Keypair()
        airdrop = client.request_airdrop(payer.pubkey(), 2 * SOL).value
        client.confirm_transaction(airdrop)
        blockhash = client.get_latest_blockhash().value.blockhash
        tx = Transaction([payer], Message([transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payee.pubkey(), lamports=SOL))], payer.pubkey()), blockhash)
        signature = client.send_transaction(tx).value
        client.confirm_transaction(signature)
        assert client.get_balance(payee.pubkey()).value == SOL
        assert client.get_transaction(signature).value.transaction.meta.fee == 5_000


async def test_sync_client_reads_the_cluster():
    async with LocalnetProcess() as net:
        client = Client(net.url)
        identity = client.get_identity().value.identity
        assert client.get_vote_accounts().value.current[0].node_pubkey == identity
        assert client.get_slot_leader().value == identity
        assert len(client.get_cluster_nodes().value) == 1
        supply = client.get_supply().value
        assert supply.total == supply.circulating > 0
        slot = client.get_slot().value
        assert client.get_blocks(slot - 1, slot).value == [slot - 1, slot]
        assert client.get_block_commitment(slot).value.total_stake == 0
        assert client.get_epoch_schedule().value.slots_per_epoch == client.get_epoch_info().value.slots_in_epoch
        assert client.get_inflation_governor().value.initial == 0.0
