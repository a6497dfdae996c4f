"""WebSocket subscriptions, as the validator's PubSub serves them.

Each connection owns its subscriptions; the chain notifies the registry after
every commit and slot, and each matching subscription gets a JSON-RPC
notification queued for its connection. A subscription's confirmation is
queued before anything it notifies (a signature already processed included).
Every slot is a block of the one validator, voted on and rooted at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey

from localnet import params as p
from localnet.blocks import block_json
from localnet.chain import Commit, LocalChain
from localnet.encoding import encode_account
from localnet.errors import InvalidParams, MethodNotFound, RpcError

KINDS = {"account", "program", "logs", "signature", "slot", "block", "root", "slotsUpdates", "vote"}


@dataclass
class Subscription:
    id: int
    kind: str
    send: Callable[[dict], None]
    key: Pubkey | None = None  # account / program / mentioned address
    signature: str | None = None
    config: dict = field(default_factory=dict)


class Subscriptions:
    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self._ids = itertools.count(1)
        self.active: dict[int, Subscription] = {}
        chain.subscribers.append(self._on_commit)
        chain.slot_subscribers.append(self._on_slot)

    def handle(self, method: str, params: Any, send: Callable[[dict], None], owned: set[int],
               confirm: Callable[[Any], None]) -> None:
        """Runs a subscribe/unsubscribe call for one connection: its result goes to `confirm`, then any
        notification it causes at once to `send`."""
        if method.endswith("Unsubscribe") and method[: -len("Unsubscribe")] in KINDS:
            sub_id = p.positional(params, 0, "subscription id")
            if sub_id not in owned:
                raise InvalidParams("Invalid subscription id.")
            owned.discard(sub_id)
            self.active.pop(sub_id, None)
            confirm(True)
            return
        if not method.endswith("Subscribe") or method[: -len("Subscribe")] not in KINDS:
            raise MethodNotFound("Method not found")
        sub = self._parse(method[: -len("Subscribe")], params, send)
        self.active[sub.id] = sub
        owned.add(sub.id)
        confirm(sub.id)
        if sub.kind == "signature" and sub.signature in self.chain.transactions:
            self._notify_signature(sub, self.chain.transactions[sub.signature])

    def _parse(self, kind: str, params: Any, send: Callable[[dict], None]) -> Subscription:
        sub = Subscription(next(self._ids), kind, send)
        if kind in ("account", "program"):
            sub.key = p.pubkey(p.positional(params, 0, "pubkey"))
            sub.config = p.config(params, 1)
        elif kind == "signature":
            sub.signature = str(p.signature(p.positional(params, 0, "signature")))
            sub.config = p.config(params, 1)
        elif kind == "logs":
            selector = p.positional(params, 0, "filter")
            if isinstance(selector, dict) and isinstance(selector.get("mentions"), list) and len(selector["mentions"]) == 1:
                sub.key = p.pubkey(selector["mentions"][0])
            elif selector not in ("all", "allWithVotes"):
                raise InvalidParams('logs filter must be "all", "allWithVotes" or {"mentions": [one address]}')
        elif kind == "block":
            selector = p.positional(params, 0, "filter")
            if isinstance(selector, dict) and len(selector) == 1 and "mentionsAccountOrProgram" in selector:
                sub.key = p.pubkey(selector["mentionsAccountOrProgram"])
            elif selector != "all":
                raise InvalidParams('block filter must be "all" or {"mentionsAccountOrProgram": address}')
            sub.config = p.config(params, 1)
            block_json(self.chain, 0, sub.config)  # refuses a bad encoding or detail level now, not at each block
        return sub

    def drop(self, owned: set[int]) -> None:
        for sub_id in owned:
            self.active.pop(sub_id, None)

    def _send(self, sub: Subscription, method: str, result: Any) -> None:
        sub.send({"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": sub.id}})

    def _context(self, slot: int, value: Any) -> dict:
        return {"context": {"slot": slot}, "value": value}

    def _notify_signature(self, sub: Subscription, record: dict) -> None:
        self._send(sub, "signatureNotification", self._context(record["slot"], {"err": record["err"]}))
        self.active.pop(sub.id, None)  # a signature subscription ends with its notification

    def _on_commit(self, commit: Commit) -> None:
        if not self.active:  # the common case, at every committed transaction
            return
        record = commit.record
        for sub in list(self.active.values()):
            if sub.kind == "account" and sub.key in commit.accounts:
                account = commit.accounts[sub.key]
                value = encode_account(account, sub.config.get("encoding", "base58"), sub.config.get("dataSlice")) if account else None
                self._send(sub, "accountNotification", self._context(commit.slot, value or {
                    "lamports": 0, "data": ["", "base64"], "owner": "11111111111111111111111111111111",
                    "executable": False, "rentEpoch": 0, "space": 0}))
            elif sub.kind == "program":
                for key, account in commit.accounts.items():
                    if account is not None and account.owner == sub.key:
                        value = {"pubkey": str(key), "account": encode_account(account, sub.config.get("encoding", "base58"), sub.config.get("dataSlice"))}
                        self._send(sub, "programNotification", self._context(commit.slot, value))
            elif sub.kind == "logs" and (sub.key is None or str(sub.key) in record["accountKeys"]):
                self._send(sub, "logsNotification", self._context(
                    commit.slot, {"signature": record["signature"], "err": record["err"], "logs": record["logs"]}))
            elif sub.kind == "signature" and sub.signature == record["signature"]:
                self._notify_signature(sub, record)

    def _on_slot(self, slot: int) -> None:
        """The slot's block is made, voted on and rooted at once: each subscription hears its part."""
        if not self.active:  # the common case, at every committed transaction
            return
        mentioned = {key for signature in self.chain.by_slot.get(slot, [])
                     for key in self.chain.transactions[signature]["accountKeys"]}
        now_ms = int(time.time() * 1000)
        for sub in list(self.active.values()):
            if sub.kind == "slot":
                self._send(sub, "slotNotification", {"parent": slot - 1, "root": slot, "slot": slot})
            elif sub.kind == "root":
                self._send(sub, "rootNotification", slot)
            elif sub.kind == "slotsUpdates":
                for update in self._slot_updates(slot, now_ms):
                    self._send(sub, "slotsUpdatesNotification", update)
            elif sub.kind == "vote":
                self._send(sub, "voteNotification", self._vote(slot))
            elif sub.kind == "block" and (sub.key is None or str(sub.key) in mentioned):
                try:
                    block = block_json(self.chain, slot, sub.config)
                except RpcError as exc:  # e.g. a v0 transaction for a client that did not say it reads them
                    self._send(sub, "blockNotification", self._context(slot, {"slot": slot, "err": exc.message, "block": None}))
                    continue
                self._send(sub, "blockNotification", self._context(slot, {"slot": slot, "err": None, "block": block}))

    def _slot_updates(self, slot: int, now_ms: int) -> list[dict]:
        transactions = len(self.chain.by_slot.get(slot, []))
        failed = sum(self.chain.transactions[s]["err"] is not None for s in self.chain.by_slot.get(slot, []))
        return [
            {"type": "createdBank", "slot": slot, "parent": slot - 1, "timestamp": now_ms},
            {"type": "completed", "slot": slot, "timestamp": now_ms},
            {"type": "frozen", "slot": slot, "timestamp": now_ms, "stats": {
                "numTransactionEntries": transactions, "numSuccessfulTransactions": transactions - failed,
                "numFailedTransactions": failed, "maxTransactionsPerEntry": min(transactions, 1)}},
            {"type": "optimisticConfirmation", "slot": slot, "timestamp": now_ms},
            {"type": "root", "slot": slot, "timestamp": now_ms},
        ]

    def _vote(self, slot: int) -> dict:
        """The validator's vote on the slot's block, signed by its identity."""
        blockhash = self.chain.blockhash_of(slot)
        signature = self.chain.faucet.sign_message(bytes(self.chain.vote_account) + slot.to_bytes(8, "little") + bytes(blockhash))
        return {"votePubkey": str(self.chain.vote_account), "slots": [slot], "hash": str(blockhash),
                "timestamp": int(time.time()), "signature": str(signature)}
