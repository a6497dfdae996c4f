"""Instructions as `jsonParsed` shows them: the programs a validator parses (System, SPL Token and Token-2022's base
instructions, Associated Token Account, Memo, Compute Budget) become {program, programId, parsed: {type, info}}; any
other instruction, or one these decoders refuse, stays {programId, accounts, data}. Decoding is solders' and spl's
own where they have a decoder; the later token instructions are a byte and fixed fields, read here."""

from __future__ import annotations

from collections.abc import Callable

import based58
import spl.token.instructions as token
from solders import system_program as system
from solders.compute_budget import ID as COMPUTE_BUDGET_PROGRAM_ID
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

MEMO_V1_PROGRAM_ID = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")


def _system(ix: Instruction) -> dict:
    kind = int.from_bytes(bytes(ix.data)[:4], "little")
    if kind == 0:
        p = system.decode_create_account(ix)
        return {"type": "createAccount", "info": {"source": str(p["from_pubkey"]), "newAccount": str(p["to_pubkey"]),
                                                   "lamports": p["lamports"], "space": p["space"], "owner": str(p["owner"])}}
    if kind == 1:
        p = system.decode_assign(ix)
        return {"type": "assign", "info": {"account": str(p["pubkey"]), "owner": str(p["owner"])}}
    if kind == 2:
        p = system.decode_transfer(ix)
        return {"type": "transfer", "info": {"source": str(p["from_pubkey"]), "destination": str(p["to_pubkey"]),
                                             "lamports": p["lamports"]}}
    if kind == 3:
        p = system.decode_create_account_with_seed(ix)
        return {"type": "createAccountWithSeed", "info": {
            "source": str(p["from_pubkey"]), "newAccount": str(p["to_pubkey"]), "base": str(p["base"]), "seed": p["seed"],
            "lamports": p["lamports"], "space": p["space"], "owner": str(p["owner"])}}
    if kind == 4:
        p = system.decode_advance_nonce_account(ix)
        return {"type": "advanceNonce", "info": {"nonceAccount": str(p["nonce_pubkey"]),
                                                 "recentBlockhashesSysvar": str(ix.accounts[1].pubkey),
                                                 "nonceAuthority": str(p["authorized_pubkey"])}}
    if kind == 5:
        p = system.decode_withdraw_nonce_account(ix)
        return {"type": "withdrawFromNonce", "info": {
            "nonceAccount": str(p["nonce_pubkey"]), "destination": str(p["to_pubkey"]),
            "recentBlockhashesSysvar": str(ix.accounts[2].pubkey), "rentSysvar": str(ix.accounts[3].pubkey),
            "nonceAuthority": str(p["authorized_pubkey"]), "lamports": p["lamports"]}}
    if kind == 6:
        p = system.decode_initialize_nonce_account(ix)
        return {"type": "initializeNonce", "info": {
            "nonceAccount": str(p["nonce_pubkey"]), "recentBlockhashesSysvar": str(ix.accounts[1].pubkey),
            "rentSysvar": str(ix.accounts[2].pubkey), "nonceAuthority": str(p["authority"])}}
    if kind == 7:
        p = system.decode_authorize_nonce_account(ix)
        return {"type": "authorizeNonce", "info": {"nonceAccount": str(p["nonce_pubkey"]),
                                                   "nonceAuthority": str(p["authorized_pubkey"]),
                                                   "newAuthorized": str(p["new_authority"])}}
    if kind == 8:
        p = system.decode_allocate(ix)
        return {"type": "allocate", "info": {"account": str(p["pubkey"]), "space": p["space"]}}
    if kind == 9:
        p = system.decode_allocate_with_seed(ix)
        return {"type": "allocateWithSeed", "info": {"account": str(p["address"]), "base": str(p["base"]),
                                                     "seed": p["seed"], "space": p["space"], "owner": str(p["owner"])}}
    if kind == 10:
        p = system.decode_assign_with_seed(ix)
        return {"type": "assignWithSeed", "info": {"account": str(p["address"]), "base": str(p["base"]), "seed": p["seed"],
                                                   "owner": str(p["owner"])}}
    if kind == 11:
        p = system.decode_transfer_with_seed(ix)
        return {"type": "transferWithSeed", "info": {
            "source": str(p["from_pubkey"]), "sourceBase": str(p["from_base"]), "destination": str(p["to_pubkey"]),
            "lamports": p["lamports"], "sourceSeed": p["from_seed"], "sourceOwner": str(p["from_owner"])}}
    if kind == 12 and len(ix.accounts) >= 1 and len(bytes(ix.data)) == 4:
        return {"type": "upgradeNonce", "info": {"nonceAccount": str(ix.accounts[0].pubkey)}}
    raise ValueError(f"system instruction {kind} is not parsed")


def _ui_amount(amount: int, decimals: int) -> dict:
    text = str(amount).rjust(decimals + 1, "0")
    ui = f"{text[:-decimals]}.{text[-decimals:]}".rstrip("0").rstrip(".") if decimals else text
    return {"amount": str(amount), "decimals": decimals, "uiAmount": amount / 10**decimals, "uiAmountString": ui}


# The validator's names for SetAuthority's authority types, by their byte.
AUTHORITY_TYPES = ("mintTokens", "freezeAccount", "accountOwner", "closeAccount")


def _keys(ix: Instruction) -> list[str]:
    return [str(meta.pubkey) for meta in ix.accounts]


def _token_later(ix: Instruction) -> dict:
    """Token instructions solana-py has no decoder for: their layouts are a byte, then fixed fields."""
    data, keys = bytes(ix.data), _keys(ix)
    kind, rest = data[0], data[1:]
    if kind == 16 and len(rest) == 32 and len(keys) >= 3:
        return {"type": "initializeAccount2", "info": {"account": keys[0], "mint": keys[1], "owner": str(Pubkey(rest)),
                                                       "rentSysvar": keys[2]}}
    if kind == 18 and len(rest) == 32 and len(keys) >= 2:
        return {"type": "initializeAccount3", "info": {"account": keys[0], "mint": keys[1], "owner": str(Pubkey(rest))}}
    if kind == 20 and len(rest) in (34, 66) and len(keys) >= 1:
        info = {"mint": keys[0], "decimals": rest[0], "mintAuthority": str(Pubkey(rest[1:33]))}
        if rest[33] == 1 and len(rest) == 66:
            info["freezeAuthority"] = str(Pubkey(rest[34:66]))
        elif rest[33] != 0 or len(rest) != 34:
            raise ValueError("initializeMint2's freeze authority is malformed")
        return {"type": "initializeMint2", "info": info}
    if kind == 19 and len(rest) == 1 and len(keys) >= 2:
        return {"type": "initializeMultisig2", "info": {"multisig": keys[0], "signers": keys[1:], "m": rest[0]}}
    if kind == 22 and not rest and len(keys) >= 1:
        return {"type": "initializeImmutableOwner", "info": {"account": keys[0]}}
    if kind == 23 and len(rest) == 8 and len(keys) >= 1:
        return {"type": "amountToUiAmount", "info": {"mint": keys[0], "amount": int.from_bytes(rest, "little")}}
    raise ValueError(f"token instruction {kind} is not parsed")


def _signed(info: dict, keys: list[str], authority_at: int, single: str, multisig: str) -> dict:
    """The validator's rule for a token authority: accounts beyond it mean a multisig and the keys that signed for it."""
    if len(keys) > authority_at + 1:
        info[multisig], info["signers"] = keys[authority_at], keys[authority_at + 1:]
    else:
        info[single] = keys[authority_at]
    return info


def _token(ix: Instruction) -> dict:
    if bytes(ix.data)[0] not in {t.value for t in token.InstructionType}:
        return _token_later(ix)
    kind = token.InstructionType(bytes(ix.data)[0])
    T = token.InstructionType
    keys = _keys(ix)
    if kind == T.INITIALIZE_MINT:
        p = token.decode_initialize_mint(ix)
        info = {"mint": str(p.mint), "decimals": p.decimals, "mintAuthority": str(p.mint_authority),
                "rentSysvar": keys[1]}
        if p.freeze_authority is not None:
            info["freezeAuthority"] = str(p.freeze_authority)
        return {"type": "initializeMint", "info": info}
    if kind == T.INITIALIZE_ACCOUNT:
        p = token.decode_initialize_account(ix)
        return {"type": "initializeAccount", "info": {"account": str(p.account), "mint": str(p.mint), "owner": str(p.owner),
                                                      "rentSysvar": keys[3]}}
    if kind == T.INITIALIZE_MULTISIG and len(ix.data) == 2 and len(keys) >= 3:
        # solana-py's decoder takes the last m accounts as the signers; the validator shows every account after the rent sysvar
        return {"type": "initializeMultisig", "info": {"multisig": keys[0], "rentSysvar": keys[1], "signers": keys[2:],
                                                       "m": bytes(ix.data)[1]}}
    if kind == T.TRANSFER:
        p = token.decode_transfer(ix)
        return {"type": "transfer", "info": _signed({"source": str(p.source), "destination": str(p.dest),
                                                     "amount": str(p.amount)}, keys, 2, "authority", "multisigAuthority")}
    if kind == T.APPROVE:
        p = token.decode_approve(ix)
        return {"type": "approve", "info": _signed({"source": str(p.source), "delegate": str(p.delegate),
                                                    "amount": str(p.amount)}, keys, 2, "owner", "multisigOwner")}
    if kind == T.SET_AUTHORITY:
        p = token.decode_set_authority(ix)
        owned = "mint" if p.authority.value in (0, 1) else "account"
        return {"type": "setAuthority", "info": _signed({
            owned: str(p.account), "authorityType": AUTHORITY_TYPES[p.authority.value],
            "newAuthority": str(p.new_authority) if p.new_authority is not None else None},
            keys, 1, "authority", "multisigAuthority")}
    if kind in (T.FREEZE_ACCOUNT, T.THAW_ACCOUNT):
        return {"type": "freezeAccount" if kind == T.FREEZE_ACCOUNT else "thawAccount",
                "info": _signed({"account": keys[0], "mint": keys[1]}, keys, 2, "freezeAuthority", "multisigFreezeAuthority")}
    if kind == T.APPROVE2:
        p = token.decode_approve_checked(ix)
        return {"type": "approveChecked", "info": _signed({
            "source": str(p.source), "mint": str(p.mint), "delegate": str(p.delegate),
            "tokenAmount": _ui_amount(p.amount, p.decimals)}, keys, 3, "owner", "multisigOwner")}
    if kind == T.BURN2:
        p = token.decode_burn_checked(ix)
        return {"type": "burnChecked", "info": _signed({"account": str(p.account), "mint": str(p.mint),
                                                        "tokenAmount": _ui_amount(p.amount, p.decimals)},
                                                       keys, 2, "authority", "multisigAuthority")}
    if kind == T.REVOKE:
        return {"type": "revoke", "info": _signed({"source": keys[0]}, keys, 1, "owner", "multisigOwner")}
    if kind == T.MINT_TO:
        p = token.decode_mint_to(ix)
        return {"type": "mintTo", "info": _signed({"mint": str(p.mint), "account": str(p.dest), "amount": str(p.amount)},
                                                  keys, 2, "mintAuthority", "multisigMintAuthority")}
    if kind == T.BURN:
        p = token.decode_burn(ix)
        return {"type": "burn", "info": _signed({"account": str(p.account), "mint": str(p.mint), "amount": str(p.amount)},
                                                keys, 2, "authority", "multisigAuthority")}
    if kind == T.CLOSE_ACCOUNT:
        return {"type": "closeAccount", "info": _signed({"account": keys[0], "destination": keys[1]},
                                                        keys, 2, "owner", "multisigOwner")}
    if kind == T.TRANSFER2:
        p = token.decode_transfer_checked(ix)
        return {"type": "transferChecked", "info": _signed({
            "source": str(p.source), "mint": str(p.mint), "destination": str(p.dest),
            "tokenAmount": _ui_amount(p.amount, p.decimals)}, keys, 3, "authority", "multisigAuthority")}
    if kind == T.MINT_TO2:
        p = token.decode_mint_to_checked(ix)
        return {"type": "mintToChecked", "info": _signed({"mint": str(p.mint), "account": str(p.dest),
                                                          "tokenAmount": _ui_amount(p.amount, p.decimals)},
                                                         keys, 2, "mintAuthority", "multisigMintAuthority")}
    if kind == T.SYNC_NATIVE:
        return {"type": "syncNative", "info": {"account": str(token.decode_sync_native(ix).account)}}
    raise ValueError(f"token instruction {kind.name} is not parsed")


def _associated_token(ix: Instruction) -> dict:
    data = bytes(ix.data)
    if data not in (b"", b"\x00", b"\x01") or len(ix.accounts) < 6:
        raise ValueError("not an associated token account creation")
    keys = _keys(ix)
    return {"type": "createIdempotent" if data == b"\x01" else "create", "info": {
        "source": keys[0], "account": keys[1], "wallet": keys[2], "mint": keys[3], "systemProgram": keys[4],
        "tokenProgram": keys[5]}}


def _memo(ix: Instruction) -> str:
    return bytes(ix.data).decode("utf-8")


def _compute_budget(ix: Instruction) -> dict:
    data = bytes(ix.data)
    if data[:1] == b"\x01" and len(data) == 5:
        return {"type": "requestHeapFrame", "info": {"bytes": int.from_bytes(data[1:], "little")}}
    if data[:1] == b"\x02" and len(data) == 5:
        return {"type": "setComputeUnitLimit", "info": {"units": int.from_bytes(data[1:], "little")}}
    if data[:1] == b"\x03" and len(data) == 9:
        return {"type": "setComputeUnitPrice", "info": {"microLamports": int.from_bytes(data[1:], "little")}}
    raise ValueError("not a compute budget instruction this parser knows")


PARSERS: dict[Pubkey, tuple[str, Callable[[Instruction], object]]] = {
    system.ID: ("system", _system),
    TOKEN_PROGRAM_ID: ("spl-token", _token),
    TOKEN_2022_PROGRAM_ID: ("spl-token", _token),  # the validator parses Token-2022's base instructions as SPL Token's
    ASSOCIATED_TOKEN_PROGRAM_ID: ("spl-associated-token-account", _associated_token),
    MEMO_PROGRAM_ID: ("spl-memo", _memo),
    MEMO_V1_PROGRAM_ID: ("spl-memo", _memo),
    COMPUTE_BUDGET_PROGRAM_ID: ("compute-budget", _compute_budget),
}


def parse_instruction(keys: list[Pubkey], program_index: int, accounts: list[int], data: bytes,
                      stack_height: int | None) -> dict:
    """A compiled instruction (indexes into `keys`) as jsonParsed shows it."""
    program = keys[program_index]
    known = PARSERS.get(program)
    if known is not None:
        name, parse = known
        instruction = Instruction(program, data, [AccountMeta(keys[i], False, False) for i in accounts])
        try:
            return {"program": name, "programId": str(program), "parsed": parse(instruction), "stackHeight": stack_height}
        except Exception:  # noqa: BLE001 - the decoders refuse malformed data in their own ways: shown unparsed, as a validator does
            pass
    return {"programId": str(program), "accounts": [str(keys[i]) for i in accounts],
            "data": based58.b58encode(data).decode(), "stackHeight": stack_height}
