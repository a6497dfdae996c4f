"""WebSocket subscriptions, as the validator's PubSub serves them.

Each connection owns its subscriptions; the chain notifies the registry after
every commit and slot, and each matching subscription gets a JSON-RPC
notification queued for its connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey

from localnet import params as p
from localnet.chain import Commit, LocalChain
from localnet.encoding import encode_account
from localnet.errors import InvalidParams, MethodNotFound

KINDS = {"account", "program", "logs", "signature", "slot"}


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

    def handle(self, method: str, params: Any, send: Callable[[dict], None], owned: set[int]) -> Any:
        """Runs a subscribe/unsubscribe call for one connection; returns the result."""
        if method.endswith("Unsubscribe") and method[: -len("Unsubscribe")] in KINDS:
            sub_id = p.positional(params, 0, "subscription id")
            if sub_id not in owned:
                raise InvalidParams("Invalid subscription id.")
            owned.discard(sub_id)
            self.active.pop(sub_id, None)
            return True
        if not method.endswith("Subscribe") or method[: -len("Subscribe")] not in KINDS:
            raise MethodNotFound("Method not found")
        kind = method[: -len("Subscribe")]
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
        self.active[sub.id] = sub
        owned.add(sub.id)
        if kind == "signature" and sub.signature in self.chain.transactions:
            self._notify_signature(sub, self.chain.transactions[sub.signature])
        return sub.id

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
        for sub in list(self.active.values()):
            if sub.kind == "slot":
                self._send(sub, "slotNotification", {"parent": slot - 1, "root": slot, "slot": slot})
