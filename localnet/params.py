"""Parsing of JSON-RPC params: each helper raises InvalidParams with what was wrong."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

import based58
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from localnet.errors import InvalidParams

T = TypeVar("T")
MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURE_STATUSES = 256


def positional(params: Any, index: int, name: str, required: bool = True) -> Any:
    if params is None:
        params = []
    if not isinstance(params, list):
        raise InvalidParams("params must be an array")
    if index >= len(params) or params[index] is None:
        if required:
            raise InvalidParams(f"missing parameter {index}: {name}")
        return None
    return params[index]


def config(params: Any, index: int) -> dict:
    value = positional(params, index, "config", required=False)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParams(f"parameter {index} must be a configuration object")
    # Clients send null for options they leave unset.
    return {key: option for key, option in value.items() if option is not None}


def _base58(value: Any, parse: Callable[[str], T], name: str) -> T:
    if not isinstance(value, str):
        raise InvalidParams(f"{name} must be a base58 string")
    try:
        return parse(value)
    except Exception as exc:  # solders' parse errors (ParseHashError, ...) are not all ValueErrors
        raise InvalidParams(f"Invalid param: {name} {value[:64]!r} is not valid") from exc


def pubkey(value: Any, name: str = "pubkey") -> Pubkey:
    return _base58(value, Pubkey.from_string, name)


def signature(value: Any) -> Signature:
    return _base58(value, Signature.from_string, "signature")


def blockhash(value: Any) -> Hash:
    return _base58(value, Hash.from_string, "blockhash")


def unsigned(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 2**64:
        raise InvalidParams(f"{name} must be an unsigned 64-bit integer")
    return value


def decode_bytes(value: Any, encoding: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidParams(f"{what} must be a string")
    try:
        if encoding == "base64":
            return base64.b64decode(value, validate=True)
        if encoding == "base58":
            return based58.b58decode(value.encode())
    except ValueError as exc:
        raise InvalidParams(f"invalid {encoding} in {what}: {exc}") from exc
    raise InvalidParams(f"unsupported encoding {encoding!r} for {what}: use base58 or base64")


PACKET_DATA_SIZE = 1_232  # bytes a transaction may take on the wire
MAX_ENCODED_SIZE = {"base58": 1_683, "base64": 1_644}  # what encodes a packet, as the validator checks it first
TRANSACTION_TYPE = "solana_transaction::versioned::VersionedTransaction"  # as the validator names it in these errors


def transaction(value: Any, cfg: dict) -> VersionedTransaction:
    """A transaction as a validator takes it: refused with its own messages when it would not fit a packet."""
    encoding = cfg.get("encoding", "base58")
    limit = MAX_ENCODED_SIZE.get(encoding)
    if limit is not None and isinstance(value, str) and len(value) > limit:
        raise InvalidParams(f"{encoding} encoded {TRANSACTION_TYPE} too large: {len(value)} bytes "
                            f"(max: encoded/raw {limit}/{PACKET_DATA_SIZE})")
    raw = decode_bytes(value, encoding, "transaction")
    if len(raw) > PACKET_DATA_SIZE:
        raise InvalidParams(f"decoded {TRANSACTION_TYPE} too large: {len(raw)} bytes (max: {PACKET_DATA_SIZE} bytes)")
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise InvalidParams(f"failed to deserialize transaction: {exc}") from exc
    if not tx.signatures or len(tx.signatures) != tx.message.header.num_required_signatures:
        raise InvalidParams("invalid transaction: Transaction failed to sanitize accounts offsets correctly")
    return tx
