"""Unmodified Solana clients (solana-py, anchorpy, websockets) against the localnet server over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from anchorpy import Context, Program, Provider, Wallet
from solana.rpc.core import RPCException, TransactionExpiredBlockheightExceededError
from solana.rpc.types import MemcmpOpts, TokenAccountOpts, TxOpts
from solana.rpc.websocket_api import connect
from solders.keypair import Keypair
from solders.message import Message
from solders.rpc.responses import GetTransactionResp
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import Transaction
from spl.token import instructions as token
from spl.token.constants import TOKEN_PROGRAM_ID

from marketplace.chain import PROGRAM_ID, MarketAccount, idl, market_address, provider_address
from marketplace.chain import instructions as ix
from tests.integration.conftest import SOL, rpc_call


async def send(client, instructions, signers):
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction(signers, Message(instructions, signers[0].pubkey()), blockhash)
    return (await client.send_transaction(tx)).value


async def test_solana_py_reads_what_it_wrote(net, client, wallet):
    other = Keypair()
    signature = await send(client, [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=other.pubkey(), lamports=SOL))], [wallet])
    assert (await client.get_balance(other.pubkey())).value == SOL
    assert (await client.get_balance(wallet.pubkey())).value == 99 * SOL - 5_000
    [status] = (await client.get_signature_statuses([signature], search_transaction_history=True)).value
    assert status.err is None and status.confirmation_status is not None
    tx = (await client.get_transaction(signature)).value
    assert tx.transaction.meta.fee == 5_000 and tx.transaction.meta.err is None
    assert tx.transaction.meta.post_balances[1] == SOL and tx.block_time is not None
    raw = await client._provider.make_request(  # base64 encoding, parsed by solders as clients do
        client._get_transaction_body(signature, "base64", None, None), GetTransactionResp)  # noqa: SLF001
    assert raw.value.transaction.meta.log_messages
    sigs = (await client.get_signatures_for_address(other.pubkey())).value
    assert [s.signature for s in sigs] == [signature]
    block = (await client.get_block(tx.slot)).value
    assert str(block.transactions[0].transaction.signatures[0]) == str(signature)
    assert (await client.get_block_time(tx.slot)).value == tx.block_time
    net.chain.tick()  # a slot without transactions: its block time is when it began
    empty = net.chain.slot
    started = (await client.get_block_time(empty)).value
    assert started is not None and started >= tx.block_time
    assert (await client.get_block(empty)).value.block_time == started


async def test_cluster_methods(net, client, wallet):
    assert (await client.get_version()).value.solana_core
    assert (await client.get_genesis_hash()).value
    assert (await client.get_identity()).value.identity
    epoch = (await client.get_epoch_info()).value
    assert epoch.absolute_slot > 0 and epoch.transaction_count == 1  # the wallet's airdrop
    assert (await client.get_block_height()).value >= epoch.block_height
    assert (await client.get_minimum_balance_for_rent_exemption(165)).value == 2_039_280
    blockhash = (await client.get_latest_blockhash()).value
    assert (await rpc_call(net.url, "isBlockhashValid", [str(blockhash.blockhash)]))["result"]["value"] is True
    message = Message.new_with_blockhash(
        [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))], wallet.pubkey(), blockhash.blockhash)
    assert (await client.get_fee_for_message(message)).value == 5_000
    fees = (await rpc_call(net.url, "getRecentPrioritizationFees"))["result"]
    assert fees[-1]["prioritizationFee"] == 0 and fees[-1]["slot"] <= (await client.get_slot()).value
    accounts = (await client.get_multiple_accounts([wallet.pubkey(), Keypair().pubkey()])).value
    assert accounts[0].lamports == 100 * SOL and accounts[1] is None


async def test_slots_advance_on_a_clock(net, client):
    first = (await client.get_slot()).value
    await asyncio.sleep(1.0)
    assert (await client.get_slot()).value >= first + 2


async def test_preflight_failure_is_the_validators_error_with_logs(client, wallet):
    market, _ = market_address(wallet.pubkey())
    bad = ix.update_market(wallet.pubkey(), ix.MarketConfig(wallet.pubkey(), wallet.pubkey(), 1, 1, 1, 1, 1, 1))
    with pytest.raises(RPCException) as caught:
        await send(client, [bad], [wallet])
    error = caught.value.args[0]  # solders parsed the -32002 preflight failure
    assert type(error).__name__ == "SendTransactionPreflightFailureMessage"
    assert "Transaction simulation failed" in error.message and "custom program error: 0x1775" in error.message
    assert any("consumed" in line for line in error.data.logs)
    assert (await client.get_balance(wallet.pubkey())).value == 100 * SOL  # nothing committed, no fee


async def test_skip_preflight_commits_the_failure_and_charges_the_fee(client, wallet):
    bad = ix.update_market(wallet.pubkey(), ix.MarketConfig(wallet.pubkey(), wallet.pubkey(), 1, 1, 1, 1, 1, 1))
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([wallet], Message([bad], wallet.pubkey()), blockhash)
    signature = (await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
    [status] = (await client.get_signature_statuses([signature])).value
    assert status.err is not None
    assert (await client.get_balance(wallet.pubkey())).value == 100 * SOL - 5_000


async def test_simulate_transaction_reports_logs_and_units(client, wallet):
    config = ix.MarketConfig(wallet.pubkey(), wallet.pubkey(), SOL, 60, 60, 100, 100, 100)
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([wallet], Message([ix.initialize_market(wallet.pubkey(), config)], wallet.pubkey()), blockhash)
    sim = (await client.simulate_transaction(tx)).value
    assert sim.err is None and sim.units_consumed > 0
    assert any("Program data:" in line for line in sim.logs)
    assert (await client.get_account_info(market_address(wallet.pubkey())[0])).value is None  # not committed


async def test_duplicate_and_expired_transactions_are_rejected(net, client, wallet):
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([wallet], Message([transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))], wallet.pubkey()), blockhash)
    await client.send_transaction(tx)
    with pytest.raises(RPCException, match="already been processed"):
        await client.send_raw_transaction(bytes(tx))
    for _ in range(151):
        net.chain.tick()
    assert (await rpc_call(net.url, "isBlockhashValid", [str(blockhash)]))["result"]["value"] is False
    late = Transaction([wallet], Message([transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=Keypair().pubkey(), lamports=2))], wallet.pubkey()), blockhash)
    with pytest.raises(RPCException, match="Blockhash not found"):
        await client.send_raw_transaction(bytes(late))
    # Without preflight the validator takes it and the leader drops it: confirming it runs out of block height.
    dropped = (await client.send_raw_transaction(bytes(late), TxOpts(skip_preflight=True))).value
    assert dropped == late.signatures[0]
    with pytest.raises(TransactionExpiredBlockheightExceededError):
        await client.confirm_transaction(dropped, last_valid_block_height=(await client.get_block_height()).value, sleep_seconds=0.1)
    assert (await client.get_signature_statuses([dropped])).value == [None]
    assert (await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value == tx.signatures[0]  # not twice


async def test_anchorpy_program_drives_tessera_through_the_server(client, wallet):
    program = Program(idl(), PROGRAM_ID, Provider(client, Wallet(wallet)))
    market, _ = market_address(wallet.pubkey())
    config = {"verifier": wallet.pubkey(), "treasury": wallet.pubkey(), "min_stake": SOL, "unbonding_period": 60,
              "claim_timeout": 60, "fee_bps": 100, "slash_bps": 1_000, "sampling_rate_bps": 500, "cache_fee_bps": 0,
              "grace_period": 3_600, "max_price_per_shard": 1_000_000}
    await program.rpc["initialize_market"](config, ctx=Context(accounts={
        "authority": wallet.pubkey(), "market": market, "treasury": wallet.pubkey(), "system_program": SYSTEM_PROGRAM_ID}))
    fetched = await program.account["Market"].fetch(market)
    assert fetched.authority == wallet.pubkey() and fetched.min_stake == SOL
    owner = Keypair()
    await client.request_airdrop(owner.pubkey(), 10 * SOL)
    await send(client, [ix.register_provider(owner.pubkey(), market, "http://127.0.0.1:7001", 2 * SOL, 4)], [owner])
    providers = await program.account["Provider"].all(filters=[MemcmpOpts(8, str(market))])
    assert [p.public_key for p in providers] == [provider_address(market, owner.pubkey())[0]]
    typed = MarketAccount.decode((await client.get_account_info(market)).value.data)
    assert typed.provider_count == 1 and typed.total_stake == 2 * SOL
    with_size = (await client.get_program_accounts(PROGRAM_ID, encoding="base64", filters=[264])).value
    assert len(with_size) == 1


async def test_spl_token_transfer(client, wallet):
    rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
    mint, alice_account, bob_account, bob = Keypair(), Keypair(), Keypair(), Keypair()
    account_rent = (await client.get_minimum_balance_for_rent_exemption(165)).value
    await send(client, [
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID)),
        token.initialize_mint(token.InitializeMintParams(decimals=6, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=wallet.pubkey())),
    ], [wallet, mint])
    for account, owner in ((alice_account, wallet.pubkey()), (bob_account, bob.pubkey())):
        await send(client, [
            create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=account.pubkey(), lamports=account_rent, space=165, owner=TOKEN_PROGRAM_ID)),
            token.initialize_account(token.InitializeAccountParams(program_id=TOKEN_PROGRAM_ID, account=account.pubkey(), mint=mint.pubkey(), owner=owner)),
        ], [wallet, account])
    await send(client, [token.mint_to(token.MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=alice_account.pubkey(), mint_authority=wallet.pubkey(), amount=5_000_000))], [wallet])
    await send(client, [token.transfer(token.TransferParams(program_id=TOKEN_PROGRAM_ID, source=alice_account.pubkey(), dest=bob_account.pubkey(), owner=wallet.pubkey(), amount=1_500_000))], [wallet])
    balance = (await client.get_token_account_balance(bob_account.pubkey())).value
    assert (balance.amount, balance.decimals, balance.ui_amount_string) == ("1500000", 6, "1.5")
    owned = (await client.get_token_accounts_by_owner_json_parsed(bob.pubkey(), TokenAccountOpts(mint=mint.pubkey()))).value
    assert [a.pubkey for a in owned] == [bob_account.pubkey()]
    assert owned[0].account.data.parsed["info"]["tokenAmount"]["amount"] == "1500000"


async def test_websocket_subscriptions(net, client, wallet):
    target = Keypair().pubkey()
    async with connect(net.ws_url) as ws:
        await ws.account_subscribe(target)
        await ws.logs_subscribe()
        await ws.program_subscribe(SYSTEM_PROGRAM_ID)
        await ws.slot_subscribe()
        ids = [(await ws.recv())[0].result for _ in range(4)]
        assert len(set(ids)) == 4
        signature = await send(client, [transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=target, lamports=SOL))], [wallet])
        await ws.signature_subscribe(signature)
        kinds, lamports = set(), None
        async with asyncio.timeout(5):
            while not {"accountNotification", "logsNotification", "signatureNotification", "slotNotification"} <= kinds:
                for message in await ws.recv():
                    kind = type(message).__name__
                    kinds.add({"AccountNotification": "accountNotification", "LogsNotification": "logsNotification",
                               "SignatureNotification": "signatureNotification", "SlotNotification": "slotNotification",
                               "ProgramNotification": "programNotification"}.get(kind, kind))
                    if kind == "AccountNotification":
                        lamports = message.result.value.lamports
        assert lamports == SOL
        await ws.slot_unsubscribe(ids[3])


async def test_a_market_refuses_a_treasury_a_real_validator_could_not_pay(net, wallet):
    """Fees credited to an account below the rent-exempt minimum fail on a real validator: refused up front."""
    from client.errors import InvalidRequest
    from client.market_admin import MarketSettings, initialize_market
    from marketplace.chain.client import TesseraChain

    empty = Keypair().pubkey()
    async with TesseraChain(net.url) as chain:
        with pytest.raises(InvalidRequest) as refused:
            await initialize_market(chain, wallet, MarketSettings(wallet.pubkey(), empty))
        assert "rent-exempt minimum" in str(refused.value)
        address, _ = await initialize_market(chain, wallet, MarketSettings(wallet.pubkey(), wallet.pubkey()))
        assert (await chain.balance(address)) > 0
