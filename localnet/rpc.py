"""The JSON-RPC methods of a Solana validator, answered from the local chain.

Handlers parse their params, read or write the chain, and return the
`result` the validator would; errors are RpcErrors with the validator's codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

from localnet import params as p
from localnet.chain import LocalChain, simulation_json
from localnet.runtime import transaction_fee
from localnet.encoding import (MINT_LEN, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM_ID, encode_account, parse_token_account, slice_data,
                               token_amount)
from localnet.rpc_cluster import LARGEST_ACCOUNTS, ClusterMethods
from localnet.errors import BlockNotAvailable, InvalidParams, MethodNotFound, RpcError
from localnet.blocks import block_json
from localnet.transactions import status_json, transaction_json

MAX_SIGNATURES_FOR_ADDRESS = 1000


class RpcMethods(ClusterMethods):
    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self.identity = chain.faucet.pubkey()
        self._methods: dict[str, Callable[[Any], Any]] = {
            name[len("rpc_"):]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._methods)

    def call(self, method: str, params: Any) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise MethodNotFound("Method not found")
        return handler(params)

    def _decimals(self, mint) -> int:
        account = self.chain.account(mint)
        return bytes(account.data)[44] if account is not None and len(account.data) >= 45 else 0

    def _account_json(self, pubkey, cfg: dict):
        account = self.chain.account(pubkey)
        if account is None:
            return None
        return encode_account(account, cfg.get("encoding", "base58"), cfg.get("dataSlice"), self._decimals)

    # accounts

    def rpc_getAccountInfo(self, params):
        key = p.pubkey(p.positional(params, 0, "pubkey"))
        return self._context(self._account_json(key, p.config(params, 1)))

    def rpc_getMultipleAccounts(self, params):
        keys = p.positional(params, 0, "pubkeys")
        if not isinstance(keys, list) or len(keys) > p.MAX_MULTIPLE_ACCOUNTS:
            raise InvalidParams(f"pubkeys must be an array of at most {p.MAX_MULTIPLE_ACCOUNTS} keys")
        cfg = p.config(params, 1)
        return self._context([self._account_json(p.pubkey(k), cfg) for k in keys])

    def rpc_getProgramAccounts(self, params):
        program = p.pubkey(p.positional(params, 0, "program id"))
        cfg = p.config(params, 1)
        filters = cfg.get("filters") or []
        if not isinstance(filters, list) or len(filters) > 4:
            raise InvalidParams("filters must be an array of at most 4 filters")
        found = [
            {"pubkey": str(key), "account": encode_account(account, cfg.get("encoding", "base58"), cfg.get("dataSlice"), self._decimals)}
            for key, account in self.chain.accounts_owned_by(program)
            if all(_matches(bytes(account.data), f) for f in filters)
        ]
        return self._context(found) if cfg.get("withContext") else found

    def rpc_getBalance(self, params):
        return self._context(self.chain.balance(p.pubkey(p.positional(params, 0, "pubkey"))))

    def rpc_getMinimumBalanceForRentExemption(self, params):
        size = p.unsigned(p.positional(params, 0, "data length"), "data length")
        if size > 10 * 1024 * 1024:
            raise InvalidParams("data length is above the 10 MiB account limit")
        return self.chain.rent_exempt_minimum(size)

    def rpc_getTokenAccountBalance(self, params):
        key = p.pubkey(p.positional(params, 0, "token account"))
        account = self.chain.account(key)
        parsed = parse_token_account(bytes(account.data), self._decimals) if account and account.owner == TOKEN_PROGRAM_ID else None
        if parsed is None or parsed["parsed"]["type"] != "account":
            raise InvalidParams("Invalid param: not a Token account")
        return self._context(parsed["parsed"]["info"]["tokenAmount"])

    def rpc_getTokenAccountsByOwner(self, params):
        return self._token_accounts(params, "owner", lambda data, owner: data[32:64] == owner)

    def rpc_getTokenAccountsByDelegate(self, params):
        # The delegate is a COption<Pubkey>: a 4-byte tag (1 = set) at 72, the key at 76.
        return self._token_accounts(params, "delegate", lambda data, delegate: data[72:76] == b"\x01\0\0\0" and data[76:108] == delegate)

    def _token_accounts(self, params, role: str, holds: Callable[[bytes, bytes], bool]):
        holder = bytes(p.pubkey(p.positional(params, 0, role), role))
        selector = p.positional(params, 1, "mint or programId")
        if not isinstance(selector, dict) or len(selector) != 1 or not ({"mint", "programId"} & selector.keys()):
            raise InvalidParams("the second parameter must be {\"mint\": ...} or {\"programId\": ...}")
        mint = p.pubkey(selector["mint"], "mint") if "mint" in selector else None
        if "programId" in selector and p.pubkey(selector["programId"], "programId") != TOKEN_PROGRAM_ID:
            raise InvalidParams("Invalid param: unrecognized Token program id")
        cfg = p.config(params, 2)
        return self._context([
            {"pubkey": str(key), "account": encode_account(account, cfg.get("encoding", "base58"), cfg.get("dataSlice"), self._decimals)}
            for key, account, data in self._token_account_data(mint) if holds(data, holder)])

    def _token_account_data(self, mint: Pubkey | None):
        """(address, account, data) of every SPL Token account, of `mint` only when given."""
        for key, account in self.chain.accounts_owned_by(TOKEN_PROGRAM_ID):
            data = bytes(account.data)
            if len(data) == TOKEN_ACCOUNT_LEN and (mint is None or data[0:32] == bytes(mint)):
                yield key, account, data

    def _mint(self, params) -> tuple[Pubkey, bytes]:
        mint = p.pubkey(p.positional(params, 0, "mint"), "mint")
        account = self.chain.account(mint)
        if account is None or account.owner != TOKEN_PROGRAM_ID or len(account.data) != MINT_LEN:
            raise InvalidParams("Invalid param: not a Token mint")
        return mint, bytes(account.data)

    def rpc_getTokenSupply(self, params):
        _, data = self._mint(params)
        return self._context(token_amount(int.from_bytes(data[36:44], "little"), data[44]))

    def rpc_getTokenLargestAccounts(self, params):
        mint, data = self._mint(params)
        holdings = [(key, int.from_bytes(data[64:72], "little")) for key, _, data in self._token_account_data(mint)]
        largest = sorted(holdings, key=lambda item: (-item[1], bytes(item[0])))[:LARGEST_ACCOUNTS]
        return self._context([{"address": str(key), **token_amount(amount, data[44])} for key, amount in largest])

    # blockhashes and fees

    def rpc_getLatestBlockhash(self, params):
        return self._context({"blockhash": str(self.chain.latest_blockhash),
                              "lastValidBlockHeight": self.chain.last_valid_block_height})

    def rpc_isBlockhashValid(self, params):
        return self._context(self.chain.is_blockhash_valid(p.blockhash(p.positional(params, 0, "blockhash"))))

    def rpc_getFeeForMessage(self, params):
        raw = p.decode_bytes(p.positional(params, 0, "message"), "base64", "message")
        try:
            message = MessageV0.from_bytes(raw[1:]) if raw and raw[0] & 0x80 else Message.from_bytes(raw)
        except ValueError as exc:
            raise InvalidParams(f"failed to deserialize message: {exc}") from exc
        if not self.chain.is_blockhash_valid(message.recent_blockhash):
            return self._context(None)
        return self._context(transaction_fee(message))

    def rpc_getRecentPrioritizationFees(self, params):
        return [{"slot": slot, "prioritizationFee": 0} for slot in range(max(1, self.chain.slot - 149), self.chain.slot + 1)]

    # transactions

    def rpc_requestAirdrop(self, params):
        key = p.pubkey(p.positional(params, 0, "pubkey"))
        lamports = p.unsigned(p.positional(params, 1, "lamports"), "lamports")
        return self.chain.airdrop(key, lamports)

    def rpc_sendTransaction(self, params):
        cfg = p.config(params, 1)
        tx = p.transaction(p.positional(params, 0, "transaction"), cfg)
        return self.chain.send(tx, preflight=not cfg.get("skipPreflight", False))

    def rpc_simulateTransaction(self, params):
        cfg = p.config(params, 1)
        tx = p.transaction(p.positional(params, 0, "transaction"), cfg)
        if cfg.get("sigVerify") and cfg.get("replaceRecentBlockhash"):
            raise InvalidParams("sigVerify may not be used with replaceRecentBlockhash")
        if cfg.get("sigVerify") and not all(tx.verify_with_results()):
            raise RpcError("Transaction signature verification failure")
        simulation = self.chain.simulate(tx)
        value = simulation_json(simulation)
        requested = cfg.get("accounts")
        if requested:
            if not isinstance(requested, dict) or not isinstance(requested.get("addresses", []), list):
                raise InvalidParams("accounts must be {\"addresses\": [base58 pubkeys], \"encoding\": ...}")
            addresses = [p.pubkey(a) for a in requested.get("addresses", [])]
            encoding = requested.get("encoding", "base64")
            value["accounts"] = [
                encode_account(simulation.post_accounts[a], encoding, None, self._decimals)
                if a in simulation.post_accounts else self._account_json(a, {"encoding": encoding})
                for a in addresses
            ]
        if cfg.get("replaceRecentBlockhash"):
            value["replacementBlockhash"] = {"blockhash": str(self.chain.latest_blockhash),
                                             "lastValidBlockHeight": self.chain.last_valid_block_height}
        return self._context(value)

    def rpc_getSignatureStatuses(self, params):
        signatures = p.positional(params, 0, "signatures")
        if not isinstance(signatures, list) or len(signatures) > p.MAX_SIGNATURE_STATUSES:
            raise InvalidParams(f"signatures must be an array of at most {p.MAX_SIGNATURE_STATUSES}")
        values = []
        for raw in signatures:
            record = self.chain.transactions.get(str(p.signature(raw)))
            values.append(status_json(record) if record else None)
        return self._context(values)

    def rpc_getTransaction(self, params):
        record = self.chain.transactions.get(str(p.signature(p.positional(params, 0, "signature"))))
        if record is None:
            return None
        cfg = p.config(params, 1)
        body = transaction_json(record, cfg.get("encoding", "json"), cfg.get("maxSupportedTransactionVersion"))
        return {"slot": record["slot"], "blockTime": record["blockTime"], **body}

    def rpc_getSignaturesForAddress(self, params):
        address = str(p.pubkey(p.positional(params, 0, "address"), "address"))
        cfg = p.config(params, 1)
        limit = cfg.get("limit", MAX_SIGNATURES_FOR_ADDRESS)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SIGNATURES_FOR_ADDRESS:
            raise InvalidParams(f"limit must be 1 to {MAX_SIGNATURES_FOR_ADDRESS}")
        signatures = list(reversed(self.chain.by_address.get(address, [])))
        if cfg.get("before"):
            before = str(p.signature(cfg["before"]))
            signatures = signatures[signatures.index(before) + 1:] if before in signatures else []
        if cfg.get("until"):
            until = str(p.signature(cfg["until"]))
            signatures = signatures[:signatures.index(until)] if until in signatures else signatures
        out = []
        for sig in signatures[:limit]:
            record = self.chain.transactions[sig]
            out.append({"signature": sig, "slot": record["slot"], "err": record["err"], "memo": None,
                        "blockTime": record["blockTime"], "confirmationStatus": "finalized"})
        return out

    def rpc_getBlock(self, params):
        slot = p.unsigned(p.positional(params, 0, "slot"), "slot")
        if slot > self.chain.slot:
            raise BlockNotAvailable(f"Block not available for slot {slot}")
        return block_json(self.chain, slot, p.config(params, 1))

    def rpc_getBlockTime(self, params):
        slot = p.unsigned(p.positional(params, 0, "slot"), "slot")
        if slot > self.chain.slot:
            raise BlockNotAvailable(f"Block not available for slot {slot}")
        return self.chain.block_time(slot)


def _matches(data: bytes, flt: Any) -> bool:
    if not isinstance(flt, dict) or len(flt) != 1:
        raise InvalidParams("each filter must be {\"dataSize\": n} or {\"memcmp\": {...}}")
    if "dataSize" in flt:
        return len(data) == p.unsigned(flt["dataSize"], "dataSize")
    if "memcmp" in flt:
        memcmp = flt["memcmp"]
        if not isinstance(memcmp, dict):
            raise InvalidParams("memcmp must be an object")
        offset = p.unsigned(memcmp.get("offset"), "memcmp offset")
        expected = p.decode_bytes(memcmp.get("bytes"), memcmp.get("encoding", "base58"), "memcmp bytes")
        return slice_data(data, {"offset": offset, "length": len(expected)}) == expected
    raise InvalidParams(f"unknown filter {next(iter(flt))!r}")
