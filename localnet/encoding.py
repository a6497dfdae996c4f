"""Accounts as the validator encodes them: base58, base64, base64+zstd, jsonParsed (SPL Token)."""

from __future__ import annotations

import base64
import struct

import based58
import zstandard
from solders.account import Account
from solders.pubkey import Pubkey

from localnet.errors import InvalidParams

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_ACCOUNT_LEN, MINT_LEN = 165, 82
MAX_BASE58_BYTES = 128  # the validator refuses base58 for larger data
ENCODINGS = ("base58", "base64", "base64+zstd", "jsonParsed", "binary")
TOKEN_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}


def slice_data(data: bytes, data_slice: dict | None) -> bytes:
    if data_slice is None:
        return data
    try:
        offset, length = int(data_slice["offset"]), int(data_slice["length"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidParams("dataSlice needs integer offset and length") from exc
    if offset < 0 or length < 0:
        raise InvalidParams("dataSlice offset and length must not be negative")
    return data[offset:offset + length]


def token_amount(amount: int, decimals: int) -> dict:
    ui = amount / 10**decimals
    text = f"{amount / 10**decimals:.{decimals}f}".rstrip("0").rstrip(".") if decimals else str(amount)
    return {"amount": str(amount), "decimals": decimals, "uiAmount": ui, "uiAmountString": text}


def parse_token_account(data: bytes, decimals_of) -> dict | None:
    """SPL Token account bytes as jsonParsed shows them, or None if not one."""
    if len(data) == TOKEN_ACCOUNT_LEN:
        mint, owner = Pubkey(data[0:32]), Pubkey(data[32:64])
        (amount,) = struct.unpack_from("<Q", data, 64)
        state = TOKEN_STATES.get(data[108], "uninitialized")
        return {
            "program": "spl-token",
            "parsed": {"type": "account", "info": {
                "isNative": data[109] == 1, "mint": str(mint), "owner": str(owner), "state": state,
                "tokenAmount": token_amount(amount, decimals_of(mint)),
            }},
            "space": TOKEN_ACCOUNT_LEN,
        }
    if len(data) == MINT_LEN:
        (supply,) = struct.unpack_from("<Q", data, 36)
        has_authority = struct.unpack_from("<I", data, 0)[0] == 1
        return {
            "program": "spl-token",
            "parsed": {"type": "mint", "info": {
                "decimals": data[44], "isInitialized": data[45] == 1, "supply": str(supply),
                "mintAuthority": str(Pubkey(data[4:36])) if has_authority else None, "freezeAuthority": None,
            }},
            "space": MINT_LEN,
        }
    return None


def encode_account(account: Account, encoding: str, data_slice: dict | None = None, decimals_of=None) -> dict:
    if encoding not in ENCODINGS:
        raise InvalidParams(f"unsupported encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    raw = bytes(account.data)
    data: object
    if encoding == "jsonParsed" and account.owner == TOKEN_PROGRAM_ID and decimals_of is not None:
        parsed = parse_token_account(raw, decimals_of)
        data = parsed if parsed is not None else [base64.b64encode(raw).decode(), "base64"]
    elif encoding in ("base58", "binary"):
        sliced = slice_data(raw, data_slice)
        if len(sliced) > MAX_BASE58_BYTES:
            raise InvalidParams("Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.")
        data = based58.b58encode(sliced).decode() if encoding == "binary" else [based58.b58encode(sliced).decode(), "base58"]
    elif encoding == "base64+zstd":
        data = [base64.b64encode(zstandard.ZstdCompressor().compress(slice_data(raw, data_slice))).decode(), "base64+zstd"]
    else:
        data = [base64.b64encode(slice_data(raw, data_slice)).decode(), "base64"]
    return {
        "lamports": account.lamports, "data": data, "owner": str(account.owner), "executable": account.executable,
        "rentEpoch": account.rent_epoch, "space": len(raw),
    }
