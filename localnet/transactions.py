"""Transactions and their status as getTransaction, getBlock and getSignatureStatuses serve them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial

import based58
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from localnet.errors import InvalidParams
from localnet.parsed_instructions import parse_instruction

ENCODINGS = ("json", "jsonParsed", "base64", "base58")


def _message_json(tx: VersionedTransaction) -> dict:
    message = tx.message
    keys = list(message.account_keys)
    out = {
        "accountKeys": [str(k) for k in keys],
        "header": {
            "numRequiredSignatures": message.header.num_required_signatures,
            "numReadonlySignedAccounts": message.header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": message.header.num_readonly_unsigned_accounts,
        },
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            {"programIdIndex": ix.program_id_index, "accounts": list(ix.accounts),
             "data": based58.b58encode(bytes(ix.data)).decode(), "stackHeight": None}
            for ix in message.instructions
        ],
    }
    if isinstance(message, MessageV0):
        out["addressTableLookups"] = _lookups_json(message)
    return out


def _lookups_json(message: MessageV0) -> list[dict]:
    return [{"accountKey": str(l.account_key), "writableIndexes": list(l.writable_indexes),
             "readonlyIndexes": list(l.readonly_indexes)} for l in message.address_table_lookups]


def _parsed_message_json(tx: VersionedTransaction, record: dict) -> dict:
    message = tx.message
    static = list(message.account_keys)
    writable = is_writable(message)
    loaded = record.get("loadedAddresses", {"writable": [], "readonly": []})
    account_keys = [{"pubkey": str(k), "writable": writable(i), "signer": message.is_signer(i), "source": "transaction"}
                    for i, k in enumerate(static)]
    account_keys += [{"pubkey": k, "writable": kind == "writable", "signer": False, "source": "lookupTable"}
                     for kind in ("writable", "readonly") for k in loaded[kind]]
    keys = _all_keys(tx, record)
    out = {
        "accountKeys": account_keys,
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [parse_instruction(keys, ix.program_id_index, list(ix.accounts), bytes(ix.data), None)
                         for ix in message.instructions],
    }
    if isinstance(message, MessageV0):
        out["addressTableLookups"] = _lookups_json(message)
    return out


def _all_keys(tx: VersionedTransaction, record: dict) -> list[Pubkey]:
    """The keys instruction indexes point into: the message's, then the addresses its lookups loaded."""
    loaded = record.get("loadedAddresses", {"writable": [], "readonly": []})
    return list(tx.message.account_keys) + [Pubkey.from_string(k) for k in loaded["writable"] + loaded["readonly"]]


def is_writable(message: Message | MessageV0) -> Callable[[int], bool]:
    """Whether the message's static key at an index is written, as the runtime decides it."""
    return message.is_maybe_writable if isinstance(message, MessageV0) else partial(_legacy_writable, message)


def _legacy_writable(message: Message, index: int) -> bool:
    """By the header's counts, with a program the message calls demoted to read-only, as the runtime does."""
    header = message.header
    if index < header.num_required_signatures:
        writable = index < header.num_required_signatures - header.num_readonly_signed_accounts
    else:
        writable = index < len(message.account_keys) - header.num_readonly_unsigned_accounts
    return writable and not message.is_key_called_as_program(index)


def _parsed_inner_instructions(tx: VersionedTransaction, record: dict) -> list[dict]:
    keys = _all_keys(tx, record)
    return [{"index": group["index"], "instructions": [
                parse_instruction(keys, ix["programIdIndex"], ix["accounts"], based58.b58decode(ix["data"].encode()), ix["stackHeight"])
                for ix in group["instructions"]]}
            for group in record.get("innerInstructions", [])]


def version_of(tx: VersionedTransaction) -> object:
    return 0 if isinstance(tx.message, MessageV0) else "legacy"


def meta_json(record: dict) -> dict:
    meta = {
        "err": record["err"],
        "status": {"Ok": None} if record["err"] is None else {"Err": record["err"]},
        "fee": record["fee"],
        "preBalances": record["preBalances"],
        "postBalances": record["postBalances"],
        "innerInstructions": record.get("innerInstructions", []),  # ledgers written before they were kept have none
        "logMessages": record["logs"],
        "preTokenBalances": [],
        "postTokenBalances": [],
        "rewards": [],
        "loadedAddresses": record.get("loadedAddresses", {"writable": [], "readonly": []}),
        "computeUnitsConsumed": record["unitsConsumed"],
    }
    if record.get("returnData"):
        meta["returnData"] = record["returnData"]
    return meta


def transaction_json(record: dict, encoding: str, max_version: int | None) -> dict:
    """The transaction with its meta, in `encoding`, without slot and blockTime."""
    if encoding not in ENCODINGS:
        raise InvalidParams(f"unsupported encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    raw = base64.b64decode(record["transaction"])
    tx = VersionedTransaction.from_bytes(raw)
    version = version_of(tx)
    if version != "legacy" and max_version is None:
        raise InvalidParams("Transaction version (0) is not supported by the requesting client. "
                            "Please try the request again with the following configuration parameter: "
                            '"maxSupportedTransactionVersion": 0')
    if encoding == "base64":
        body: object = [record["transaction"], "base64"]
    elif encoding == "base58":
        body = [based58.b58encode(raw).decode(), "base58"]
    elif encoding == "jsonParsed":
        body = {"signatures": [str(s) for s in tx.signatures], "message": _parsed_message_json(tx, record)}
    else:
        body = {"signatures": [str(s) for s in tx.signatures], "message": _message_json(tx)}
    meta = meta_json(record)
    if encoding == "jsonParsed":
        meta["innerInstructions"] = _parsed_inner_instructions(tx, record)
    out = {"transaction": body, "meta": meta}
    if max_version is not None:
        out["version"] = version
    return out


def status_json(record: dict) -> dict:
    return {
        "slot": record["slot"],
        "confirmations": None,
        "err": record["err"],
        "status": {"Ok": None} if record["err"] is None else {"Err": record["err"]},
        "confirmationStatus": "finalized",
    }
