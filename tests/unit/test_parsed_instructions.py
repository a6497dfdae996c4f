"""jsonParsed instructions (localnet/parsed_instructions.py): known programs parsed, anything else left compiled."""

from __future__ import annotations

from solders import system_program as system
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import RECENT_BLOCKHASHES, RENT
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token import instructions as token
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from localnet.parsed_instructions import parse_instruction

A, B = Keypair().pubkey(), Keypair().pubkey()


def test_a_transfer_is_parsed_with_its_accounts():
    data = (2).to_bytes(4, "little") + (5).to_bytes(8, "little")
    parsed = parse_instruction([A, B, SYSTEM_PROGRAM_ID], 2, [0, 1], data, 2)
    assert parsed == {"program": "system", "programId": str(SYSTEM_PROGRAM_ID), "stackHeight": 2,
                      "parsed": {"type": "transfer", "info": {"source": str(A), "destination": str(B), "lamports": 5}}}


def test_a_token_transfer_checked_shows_its_ui_amount():
    data = bytes([12]) + (12_345).to_bytes(8, "little") + bytes([3])
    parsed = parse_instruction([A, B, A, B, TOKEN_PROGRAM_ID], 4, [0, 1, 2, 3], data, None)
    assert parsed["parsed"]["info"]["tokenAmount"] == {"amount": "12345", "decimals": 3, "uiAmount": 12.345, "uiAmountString": "12.345"}


def test_what_no_decoder_takes_stays_compiled():
    unknown = Keypair().pubkey()
    for program, data in ((SYSTEM_PROGRAM_ID, (2).to_bytes(4, "little")),  # a transfer without its amount
                          (SYSTEM_PROGRAM_ID, (99).to_bytes(4, "little")), (TOKEN_PROGRAM_ID, bytes([200])),
                          (MEMO_PROGRAM_ID, b"\xff\xfe"), (unknown, b"\x01\x02")):
        shown = parse_instruction([A, B, program], 2, [0, 1], data, None)
        assert shown == {"programId": str(program), "accounts": [str(A), str(B)], "data": shown["data"], "stackHeight": None}, program


def _parsed(instruction: Instruction) -> dict:
    """An instruction, compiled against its own accounts, as jsonParsed shows it."""
    keys = [meta.pubkey for meta in instruction.accounts] + [instruction.program_id]
    shown = parse_instruction(keys, len(keys) - 1, list(range(len(instruction.accounts))), bytes(instruction.data), None)
    assert "parsed" in shown, shown
    return shown["parsed"]


def test_nonce_and_seeded_system_instructions_read_as_the_validator_shows_them():
    nonce, authority, to, base, owner = (Keypair().pubkey() for _ in range(5))
    blockhashes, rent = str(RECENT_BLOCKHASHES), str(RENT)
    assert _parsed(system.initialize_nonce_account({"nonce_pubkey": nonce, "authority": authority})) == {
        "type": "initializeNonce", "info": {"nonceAccount": str(nonce), "recentBlockhashesSysvar": blockhashes,
                                            "rentSysvar": rent, "nonceAuthority": str(authority)}}
    assert _parsed(system.advance_nonce_account({"nonce_pubkey": nonce, "authorized_pubkey": authority})) == {
        "type": "advanceNonce", "info": {"nonceAccount": str(nonce), "recentBlockhashesSysvar": blockhashes,
                                         "nonceAuthority": str(authority)}}
    assert _parsed(system.withdraw_nonce_account({"nonce_pubkey": nonce, "authorized_pubkey": authority, "to_pubkey": to,
                                                  "lamports": 55})) == {
        "type": "withdrawFromNonce", "info": {"nonceAccount": str(nonce), "destination": str(to),
                                              "recentBlockhashesSysvar": blockhashes, "rentSysvar": rent,
                                              "nonceAuthority": str(authority), "lamports": 55}}
    assert _parsed(system.authorize_nonce_account({"nonce_pubkey": nonce, "authorized_pubkey": authority,
                                                   "new_authority": to})) == {
        "type": "authorizeNonce", "info": {"nonceAccount": str(nonce), "nonceAuthority": str(authority),
                                           "newAuthorized": str(to)}}
    assert _parsed(system.assign_with_seed({"address": nonce, "base": base, "seed": "s", "owner": owner})) == {
        "type": "assignWithSeed", "info": {"account": str(nonce), "base": str(base), "seed": "s", "owner": str(owner)}}
    assert _parsed(system.allocate_with_seed({"address": nonce, "base": base, "seed": "s", "space": 9, "owner": owner})) == {
        "type": "allocateWithSeed", "info": {"account": str(nonce), "base": str(base), "seed": "s", "space": 9,
                                             "owner": str(owner)}}


def test_later_token_instructions_and_token_2022_read_as_the_validator_shows_them():
    account, mint, owner, delegate = (Keypair().pubkey() for _ in range(4))
    initialize3 = Instruction(TOKEN_PROGRAM_ID, bytes([18]) + bytes(owner), [AccountMeta(account, False, True),
                                                                              AccountMeta(mint, False, False)])
    assert _parsed(initialize3) == {"type": "initializeAccount3",
                                    "info": {"account": str(account), "mint": str(mint), "owner": str(owner)}}
    mint2 = Instruction(TOKEN_2022_PROGRAM_ID, bytes([20, 6]) + bytes(owner) + bytes([1]) + bytes(delegate),
                        [AccountMeta(mint, False, True)])
    keys = [mint, TOKEN_2022_PROGRAM_ID]
    shown = parse_instruction(keys, 1, [0], bytes(mint2.data), None)
    assert shown["program"] == "spl-token" and shown["parsed"] == {"type": "initializeMint2", "info": {
        "mint": str(mint), "decimals": 6, "mintAuthority": str(owner), "freezeAuthority": str(delegate)}}
    authority = token.set_authority(token.SetAuthorityParams(
        program_id=TOKEN_PROGRAM_ID, account=account, authority=token.AuthorityType.ACCOUNT_OWNER, current_authority=owner,
        new_authority=delegate))
    assert _parsed(authority) == {"type": "setAuthority", "info": {
        "account": str(account), "authorityType": "accountOwner", "newAuthority": str(delegate), "authority": str(owner)}}
    frozen = token.freeze_account(token.FreezeAccountParams(program_id=TOKEN_PROGRAM_ID, account=account, mint=mint,
                                                            authority=owner))
    assert _parsed(frozen) == {"type": "freezeAccount", "info": {"account": str(account), "mint": str(mint),
                                                                 "freezeAuthority": str(owner)}}
    burned = token.burn_checked(token.BurnCheckedParams(program_id=TOKEN_PROGRAM_ID, account=account, mint=mint, owner=owner,
                                                        amount=1_500, decimals=3))
    assert _parsed(burned) == {"type": "burnChecked", "info": {
        "account": str(account), "mint": str(mint), "authority": str(owner),
        "tokenAmount": {"amount": "1500", "decimals": 3, "uiAmount": 1.5, "uiAmountString": "1.5"}}}


def test_a_token_authority_that_is_a_multisig_shows_the_keys_that_signed_for_it():
    source, mint, destination, multisig, first, second = (Keypair().pubkey() for _ in range(6))
    signed = [AccountMeta(first, True, False), AccountMeta(second, True, False)]
    transfer = Instruction(TOKEN_PROGRAM_ID, bytes([12]) + (7).to_bytes(8, "little") + bytes([0]),
                           [AccountMeta(source, False, True), AccountMeta(mint, False, False),
                            AccountMeta(destination, False, True), AccountMeta(multisig, False, False), *signed])
    assert _parsed(transfer)["info"] == {
        "source": str(source), "mint": str(mint), "destination": str(destination),
        "tokenAmount": {"amount": "7", "decimals": 0, "uiAmount": 7.0, "uiAmountString": "7"},
        "multisigAuthority": str(multisig), "signers": [str(first), str(second)]}
    close = Instruction(TOKEN_PROGRAM_ID, bytes([9]), [AccountMeta(source, False, True), AccountMeta(destination, False, True),
                                                       AccountMeta(multisig, False, False), *signed])
    assert _parsed(close) == {"type": "closeAccount", "info": {"account": str(source), "destination": str(destination),
                                                               "multisigOwner": str(multisig),
                                                               "signers": [str(first), str(second)]}}
    revoke = Instruction(TOKEN_PROGRAM_ID, bytes([5]), [AccountMeta(source, False, True), AccountMeta(source, True, False)])
    assert _parsed(revoke) == {"type": "revoke", "info": {"source": str(source), "owner": str(source)}}
    initialize = Instruction(TOKEN_PROGRAM_ID, bytes([2, 2]), [AccountMeta(multisig, False, True), AccountMeta(RENT, False, False),
                                                               AccountMeta(first, False, False), AccountMeta(second, False, False),
                                                               AccountMeta(source, False, False)])
    assert _parsed(initialize) == {"type": "initializeMultisig", "info": {
        "multisig": str(multisig), "rentSysvar": str(RENT), "signers": [str(first), str(second), str(source)], "m": 2}}
    initialize2 = Instruction(TOKEN_2022_PROGRAM_ID, bytes([19, 1]), [AccountMeta(multisig, False, True),
                                                                      AccountMeta(first, False, False)])
    assert _parsed(initialize2) == {"type": "initializeMultisig2", "info": {"multisig": str(multisig), "signers": [str(first)],
                                                                            "m": 1}}
