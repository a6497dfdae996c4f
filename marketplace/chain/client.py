"""The Tessera program over JSON-RPC: typed accounts in, instructions out, errors named.

Works against localnet, solana-test-validator or any cluster; every
component of Tessera reaches the chain through this (or solana-py itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import MemcmpOpts, TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from marketplace.chain.accounts import (AssignmentAccount, ChannelAccount, EpochAccount, JobAccount, MarketAccount,
                                        ProviderAccount)
from marketplace.chain.errors import ChainError, program_error
from marketplace.chain.events import ProgramEvent, decode_events
from marketplace.chain.program import PROGRAM_ID, account_size

A = TypeVar("A", MarketAccount, ProviderAccount, JobAccount, AssignmentAccount, ChannelAccount, EpochAccount)
IDL_NAMES = {MarketAccount: "Market", ProviderAccount: "Provider", JobAccount: "Job", AssignmentAccount: "Assignment",
             ChannelAccount: "Channel"}
CONFIRM_TIMEOUT = 30.0  # seconds


def pubsub_url(rpc_url: str) -> str:
    """The PubSub (WebSocket) URL beside a JSON-RPC URL, as the Solana CLI derives it: ws(s), the port + 1 when one is
    given (solana-test-validator and localnet listen there)."""
    parts = urlsplit(rpc_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{rpc_url!r} is not an http(s) URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if parts.port is None else f"{host}:{parts.port + 1}"
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", netloc, parts.path, parts.query, ""))


class RpcFailure(ChainError):
    """The RPC node refused or failed a request; the message says what it answered."""


@dataclass(frozen=True)
class Sent:
    signature: Signature
    events: list[ProgramEvent]
    fee: int


@dataclass(frozen=True)
class Landed:
    """A confirmed transaction and the slot it landed in: reads of that slot or later show what it did."""

    signature: Signature
    slot: int


@dataclass(frozen=True)
class Read(Generic[A]):
    """An account as the chain showed it at `slot`, with the lamports it held."""

    account: A
    lamports: int
    slot: int


@asynccontextmanager
async def _transient(doing: str) -> AsyncIterator[None]:
    """An RPC node that is down, restarting or unreachable is a ChainError callers retry, never a crash."""
    try:
        yield
    except (SolanaRpcException, httpx.HTTPError, OSError) as exc:
        raise RpcFailure(f"RPC node unreachable while {doing}: {exc}") from exc


def _custom_code(error: object) -> int | None:
    """The program's custom error code in a preflight failure, if it returned one."""
    data = getattr(error, "data", None)
    err = getattr(data, "err", None)
    inner = getattr(err, "err", None)
    return getattr(inner, "code", None)


class TesseraChain:
    """One RPC connection and the program it talks to."""

    def __init__(self, url: str, program_id: Pubkey = PROGRAM_ID) -> None:
        self.url = url
        self.program_id = program_id
        self.rpc = AsyncClient(url, commitment=Confirmed)
        self._rent: dict[int, int] = {}
        self._genesis: str | None = None

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> TesseraChain:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def fetch(self, cls: type[A], address: Pubkey) -> A | None:
        """A typed account, or None if there is none at `address`."""
        held = await self.read(cls, address)
        return held.account if held else None

    async def read(self, cls: type[A], address: Pubkey) -> Read[A] | None:
        """A typed account, the lamports it holds and the slot it was read at, from one read; None if there is none
        at `address`."""
        async with _transient(f"reading {address}"):
            response = await self.rpc.get_account_info(address, encoding="base64")
        if response.value is None:
            return None
        if response.value.owner != self.program_id:
            raise ChainError(f"{address} is not a Tessera account (owner {response.value.owner})")
        return Read(cls.decode(bytes(response.value.data)), response.value.lamports, response.context.slot)

    async def all(self, cls: type[A], owner: Pubkey | None = None) -> list[tuple[Pubkey, A]]:
        """Every account of a type, optionally only those whose first field is `owner` (a market; a job for assignments)."""
        filters: list = [account_size(IDL_NAMES[cls])]
        if owner is not None:
            filters.append(MemcmpOpts(offset=8, bytes=str(owner)))
        async with _transient("listing program accounts"):
            response = await self.rpc.get_program_accounts(self.program_id, encoding="base64", filters=filters)
        return [(item.pubkey, cls.decode(bytes(item.account.data))) for item in response.value]

    async def balance(self, address: Pubkey) -> int:
        async with _transient(f"reading the balance of {address}"):
            return (await self.rpc.get_balance(address)).value

    async def rent_exempt_minimum(self, data_len: int) -> int:
        """Lamports an account of `data_len` bytes needs; asked once per size, as rent does not change."""
        if data_len not in self._rent:
            async with _transient("reading the rent"):
                self._rent[data_len] = (await self.rpc.get_minimum_balance_for_rent_exemption(data_len)).value
        return self._rent[data_len]

    async def genesis_hash(self) -> str:
        """The cluster's genesis hash: what names it (CAIP-2); asked once."""
        if self._genesis is None:
            async with _transient("reading the genesis hash"):
                self._genesis = str((await self.rpc.get_genesis_hash()).value)
        return self._genesis

    async def airdrop(self, address: Pubkey, lamports: int) -> None:
        async with _transient("requesting an airdrop"):
            signature = (await self.rpc.request_airdrop(address, lamports)).value
        await self.confirm(signature)

    async def confirm(self, signature: Signature) -> int:
        """Waits for the transaction to be confirmed; returns the slot it landed in."""
        deadline = asyncio.get_running_loop().time() + CONFIRM_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            async with _transient(f"confirming {signature}"):
                [status] = (await self.rpc.get_signature_statuses([signature], search_transaction_history=True)).value
            if status is not None:
                if status.err is not None:
                    raise RpcFailure(f"transaction {signature} failed: {status.err}")
                return status.slot
            await asyncio.sleep(0.1)
        raise RpcFailure(f"transaction {signature} was not confirmed within {CONFIRM_TIMEOUT:.0f} s")

    async def send(self, instructions: Sequence[Instruction], signers: Sequence[Keypair]) -> Sent:
        """Sends and confirms one transaction (signers[0] pays), then reads back its events and fee; program errors
        come back named."""
        signature = (await self.send_and_confirm(instructions, signers)).signature
        async with _transient(f"reading {signature}"):
            tx_info = (await self.rpc.get_transaction(signature, encoding="json")).value
        logs = list(tx_info.transaction.meta.log_messages or []) if tx_info else []
        fee = tx_info.transaction.meta.fee if tx_info else 0
        return Sent(signature, decode_events(logs), fee)

    async def send_and_confirm(self, instructions: Sequence[Instruction], signers: Sequence[Keypair]) -> Landed:
        """`send` without reading the transaction back: for callers on a request's path that need only its
        signature and slot."""
        async with _transient("fetching a blockhash"):
            blockhash = (await self.rpc.get_latest_blockhash()).value.blockhash
        tx = Transaction(list(signers), Message(list(instructions), signers[0].pubkey()), blockhash)
        try:
            async with _transient("sending a transaction (it may or may not have landed)"):
                signature = (await self.rpc.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=Confirmed))).value
        except RPCException as exc:
            error = exc.args[0] if exc.args else exc
            code = _custom_code(error)
            named = program_error(code) if code is not None else None
            if named is not None:
                raise named from exc
            raise RpcFailure(f"transaction refused: {getattr(error, 'message', error)}") from exc
        return Landed(signature, await self.confirm(signature))

