"""Transactions as jsonParsed shows them (System, SPL Token, Associated Token Account, Memo, Compute Budget), and
their CPIs as meta.innerInstructions, read with solana-py and parsed by solders' typed models."""

from __future__ import annotations

from solders import system_program as system
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction_status import ParsedInstruction
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token import instructions as token
from spl.token.constants import TOKEN_PROGRAM_ID

from tests.integration.conftest import SOL
from tests.integration.test_localnet_clients import send


async def test_known_programs_are_parsed_and_cpis_are_recorded(client, wallet):
    mint, owner = Keypair(), Keypair()
    rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
    instructions = [
        set_compute_unit_limit(400_000), set_compute_unit_price(7),
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID)),
        token.initialize_mint(token.InitializeMintParams(decimals=3, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=wallet.pubkey())),
        token.create_associated_token_account(wallet.pubkey(), owner.pubkey(), mint.pubkey()),  # invokes System and Token
        Instruction(MEMO_PROGRAM_ID, "paid for inference".encode(), []),
        transfer(TransferParams(from_pubkey=wallet.pubkey(), to_pubkey=owner.pubkey(), lamports=SOL)),
    ]
    signature = await send(client, instructions, [wallet, mint])
    tx = (await client.get_transaction(signature, encoding="jsonParsed")).value.transaction
    parsed = tx.transaction.message.instructions
    assert all(isinstance(ix, ParsedInstruction) for ix in parsed)
    assert [(ix.program, ix.parsed["type"] if isinstance(ix.parsed, dict) else ix.parsed) for ix in parsed] == [
        ("compute-budget", "setComputeUnitLimit"), ("compute-budget", "setComputeUnitPrice"), ("system", "createAccount"),
        ("spl-token", "initializeMint"), ("spl-associated-token-account", "create"), ("spl-memo", "paid for inference"),
        ("system", "transfer")]
    assert parsed[6].parsed["info"] == {"source": str(wallet.pubkey()), "destination": str(owner.pubkey()), "lamports": SOL}
    assert parsed[3].parsed["info"]["decimals"] == 3 and parsed[1].parsed["info"] == {"microLamports": 7}
    keys = tx.transaction.message.account_keys
    assert keys[0].pubkey == wallet.pubkey() and keys[0].signer and keys[0].writable
    [inner] = tx.meta.inner_instructions
    assert inner.index == 4  # the associated token account's creation
    invoked = [(ix.program, ix.parsed["type"]) if isinstance(ix, ParsedInstruction) else str(ix.program_id) for ix in inner.instructions]
    assert ("system", "createAccount") in invoked and ("spl-token", "initializeAccount3") in invoked
    assert all(ix.stack_height == 2 for ix in inner.instructions)
    plain = (await client.get_transaction(signature)).value.transaction.meta  # json: compiled, with indexes
    assert [group.index for group in plain.inner_instructions] == [4] and plain.loaded_addresses is not None


async def test_a_durable_nonce_account_is_parsed_as_a_validator_parses_it(client, wallet):
    nonce, authority = Keypair(), Keypair()
    rent = (await client.get_minimum_balance_for_rent_exemption(80)).value
    created = await send(client, list(system.create_nonce_account(wallet.pubkey(), nonce.pubkey(), wallet.pubkey(), rent)),
                         [wallet, nonce])
    moved = await send(client, [system.authorize_nonce_account({"nonce_pubkey": nonce.pubkey(), "authorized_pubkey": wallet.pubkey(),
                                                                "new_authority": authority.pubkey()})], [wallet])
    parsed = []
    for signature in (created, moved):
        tx = (await client.get_transaction(signature, encoding="jsonParsed")).value.transaction
        parsed += tx.transaction.message.instructions
    assert [(ix.program, ix.parsed["type"]) for ix in parsed] == [
        ("system", "createAccount"), ("system", "initializeNonce"), ("system", "authorizeNonce")]
    assert parsed[-1].parsed["info"] == {"nonceAccount": str(nonce.pubkey()), "nonceAuthority": str(wallet.pubkey()),
                                 "newAuthorized": str(authority.pubkey())}


async def test_a_multisig_mint_authority_is_shown_with_the_keys_that_signed(client, wallet):
    mint, multisig, first, second, holder = Keypair(), Keypair(), Keypair(), Keypair(), Keypair()
    mint_rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
    multisig_rent = (await client.get_minimum_balance_for_rent_exemption(355)).value
    await send(client, [
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=multisig.pubkey(), lamports=multisig_rent,
                                           space=355, owner=TOKEN_PROGRAM_ID)),
        token.initialize_multisig(token.InitializeMultisigParams(program_id=TOKEN_PROGRAM_ID, multisig=multisig.pubkey(),
                                                                 signers=[first.pubkey(), second.pubkey()], m=2)),
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=mint.pubkey(), lamports=mint_rent, space=82,
                                           owner=TOKEN_PROGRAM_ID)),
        token.initialize_mint(token.InitializeMintParams(decimals=0, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(),
                                                         mint_authority=multisig.pubkey())),
        token.create_associated_token_account(wallet.pubkey(), holder.pubkey(), mint.pubkey()),
    ], [wallet, multisig, mint])
    account = token.get_associated_token_address(holder.pubkey(), mint.pubkey())
    signature = await send(client, [token.mint_to(token.MintToParams(
        program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=account, mint_authority=multisig.pubkey(), amount=9,
        signers=[first.pubkey(), second.pubkey()]))], [wallet, first, second])
    [minted] = (await client.get_transaction(signature, encoding="jsonParsed")).value.transaction.transaction.message.instructions
    assert minted.parsed == {"type": "mintTo", "info": {
        "mint": str(mint.pubkey()), "account": str(account), "amount": "9", "multisigMintAuthority": str(multisig.pubkey()),
        "signers": [str(first.pubkey()), str(second.pubkey())]}}
    assert (await client.get_token_account_balance(account)).value.amount == "9"
