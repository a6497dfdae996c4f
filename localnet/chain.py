"""The local chain: LiteSVM with the Tessera program, a slot clock, blockhashes, history and durability.

Time behaves like a chain's: the slot advances on a clock and on every
committed transaction, the Clock sysvar follows wall time, and a signature
is processed once. A blockhash stays valid for 150 ticks of the clock (the
block height), about a minute as on mainnet, however many transactions
land meanwhile. Everything here runs
on one thread (the server's event loop); LiteSVM is not thread-safe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from array import array
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from solders.account import Account
from solders.address_lookup_table_account import ID as ADDRESS_LOOKUP_TABLE_ID
from solders.address_lookup_table_account import AddressLookupTable
from solders.clock import Clock  # type: ignore[attr-defined]
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.responses import RpcSimulateTransactionResult
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorInstructionError

from localnet.errors import InvalidParams, TransactionRejected
from localnet.ledger import Ledger, StoredAccount
from localnet.runtime import LocalRuntime, TransactionOutcome
from localnet.transactions import is_writable
from marketplace.chain import PROGRAM_ID

MAX_PROCESSING_AGE = 150  # slots a blockhash stays valid, as on mainnet
MAX_SLOT_HASHES = 512  # entries of the SlotHashes sysvar
PERFORMANCE_SAMPLE_SECONDS = 60  # as the validator samples
MAX_PERFORMANCE_SAMPLES = 720  # twelve hours of them
SLOT_RESERVATION = 64  # slots the ledger's restart floor is written ahead of the clock (one write per ~25 s)
SLOTS_PER_EPOCH = 432_000
FAUCET_LAMPORTS = 500_000_000 * 1_000_000_000
NATIVE_LOADERS = {
    Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111"),
    Pubkey.from_string("BPFLoader2111111111111111111111111111111111"),
    Pubkey.from_string("NativeLoader1111111111111111111111111111111"),
    Pubkey.from_string("Sysvar1111111111111111111111111111111111111"),
}

LOADED_AT_START = {  # owners of what LiteSVM itself provides: builtins, sysvars, Tessera and SPL programs
    Pubkey.from_string("NativeLoader1111111111111111111111111111111"),
    Pubkey.from_string("Sysvar1111111111111111111111111111111111111"),
    Pubkey.from_string("BPFLoader2111111111111111111111111111111111"),
}


# An address in base58, remembered: the same few accounts (payers, programs, sysvars) recur in most transactions,
# and encoding one costs more than looking it up.
address_text = lru_cache(maxsize=1 << 16)(Pubkey.__str__)


def error_json(err: object) -> object:
    """A solders TransactionError as the validator writes it in JSON."""
    if err is None:
        return None
    return json.loads(RpcSimulateTransactionResult(err, None, None, None, None).to_json())["err"]


def describe_error(err: object) -> str:
    """The validator's sentence for a failed simulation."""
    if isinstance(err, TransactionErrorInstructionError):
        detail = error_json(err)["InstructionError"][1]
        if isinstance(detail, dict) and "Custom" in detail:
            return f"Error processing Instruction {err.index}: custom program error: 0x{detail['Custom']:x}"
        return f"Error processing Instruction {err.index}: {detail}"
    return str(error_json(err))


def simulation_json(outcome: TransactionOutcome) -> dict:
    """A simulation as simulateTransaction answers it."""
    return {"err": error_json(outcome.err), "logs": outcome.logs, "accounts": None,
            "unitsConsumed": outcome.compute_units, "returnData": outcome.return_data}


@dataclass(frozen=True)
class PerformanceSample:
    slot: int
    transactions: int
    slots: int
    seconds: int


@dataclass(frozen=True)
class Commit:
    """What one committed transaction changed, for subscribers."""

    slot: int
    record: dict  # the transaction record, as getTransaction serves it
    accounts: dict[Pubkey, Account | None]  # the accounts it could write, as it left them (None: closed)


def _rejection(err: object) -> dict:
    return {"err": err, "logs": [], "accounts": None, "unitsConsumed": 0, "returnData": None}


class LocalChain:
    def __init__(self, ledger: Ledger | None = None, program: bytes | None = None, program_id: Pubkey = PROGRAM_ID,
                 clock: Callable[[], float] = time.time) -> None:
        self.program_id = program_id
        self.ledger = ledger
        self._clock = clock
        # Blockhashes, duplicates and history are this class's job: LiteSVM
        # keeps one blockhash and a bounded history.
        self.runtime = LocalRuntime(program, program_id, keeps_history=False, spl_programs=True)
        self.transactions: dict[str, dict] = {}
        self.by_address: dict[str, list[str]] = defaultdict(list)  # newest last
        self.by_slot: dict[int, list[str]] = defaultdict(list)
        self.known_accounts: set[Pubkey] = set()
        self.subscribers: list[Callable[[Commit], None]] = []
        self.slot_subscribers: list[Callable[[int], None]] = []
        self._blockhashes: OrderedDict[Hash, int] = OrderedDict()  # blockhash -> block height it was made at
        self._slot_floor = 0  # with a ledger: the slot a restart starts at, at least (written ahead of the clock)
        # Unix seconds each slot began at, from this process's first slot on (8 bytes a slot: ~2 MB a day).
        self._slot_times = array("q")
        self._first_timed_slot = 0
        self.performance_samples: deque[PerformanceSample] = deque(maxlen=MAX_PERFORMANCE_SAMPLES)  # newest first
        self._restore_or_genesis()
        self._sampled = (self._clock(), self.slot, len(self.transactions))  # since when the next sample counts

    # genesis, restart, the clock

    def _restore_or_genesis(self) -> None:
        stored = self.ledger.get_state("faucet") if self.ledger else None
        if stored is None:
            self.faucet = Keypair()
            self.genesis_hash = Hash(hashlib.sha256(bytes(self.faucet.pubkey()) + b"tessera-genesis").digest())
            self.slot = 1
            self.block_height = 1
            faucet_account = Account(FAUCET_LAMPORTS, b"", Pubkey.default(), False, 0)
            self.runtime.set_account(self.faucet.pubkey(), faucet_account)
            self.known_accounts.add(self.faucet.pubkey())
            if self.ledger:
                self.ledger.commit("genesis", {"genesis": True}, [StoredAccount(self.faucet.pubkey(), faucet_account)],
                                   self._state())
        else:
            self.faucet = Keypair.from_base58_string(stored)
            self.genesis_hash = Hash.from_string(self.ledger.get_state("genesis_hash"))
            # Slots that passed after the last commit were not written: start past any of them (the
            # reserved floor), so slots and block heights never go back across a restart.
            committed_slot = int(self.ledger.get_state("slot"))
            self.slot = max(committed_slot, int(self.ledger.get_state("slot_floor") or 0))
            self.block_height = int(self.ledger.get_state("block_height")) + self.slot - committed_slot
            # A deployed program's account goes in after its programdata, so the runtime finds its code.
            for stored_account in sorted(self.ledger.accounts(), key=lambda stored: stored.account.executable):
                self.runtime.set_account(stored_account.pubkey, stored_account.account)
                self.known_accounts.add(stored_account.pubkey)
            for record in self.ledger.transactions():
                if "signature" in record:
                    self._index(record)
                    self.known_accounts.update(Pubkey.from_string(key) for key in record["accountKeys"])
        self._genesis_bytes = bytes(self.genesis_hash)  # hashed into every slot's blockhash and the vote account
        self._enter_slot(self.slot)

    def _state(self) -> dict[str, str]:
        return {"faucet": str(self.faucet), "genesis_hash": str(self.genesis_hash), "slot": str(self.slot),
                "block_height": str(self.block_height)}

    @property
    def vote_account(self) -> Pubkey:
        """The one validator's vote account address (its identity is the faucet's key)."""
        return Pubkey(hashlib.sha256(self._genesis_bytes + b"tessera-vote").digest())

    def blockhash_of(self, slot: int) -> Hash:
        return Hash(hashlib.sha256(self._genesis_bytes + slot.to_bytes(8, "little")).digest())

    def block_time(self, slot: int) -> int | None:
        """When the slot's block was made: its first transaction's time, else the slot's start (known for the slots
        this process has run; an empty slot from before a restart has none, as a validator without it would)."""
        records = self.by_slot.get(slot)
        if records:
            return self.transactions[records[0]]["blockTime"]
        offset = slot - self._first_timed_slot
        return self._slot_times[offset] if 0 <= offset < len(self._slot_times) else None

    def _enter_slot(self, slot: int) -> None:
        now = int(self._clock())
        if not self._slot_times:
            self._first_timed_slot = slot
        self._slot_times.extend([now] * (slot - self._first_timed_slot + 1 - len(self._slot_times)))
        self.slot = slot
        self._blockhashes[self.blockhash_of(slot)] = self.block_height
        self.runtime.set_clock(Clock(slot, now, slot // SLOTS_PER_EPOCH, slot // SLOTS_PER_EPOCH + 1, now))

    def tick(self) -> None:
        """One slot passes on the clock (the server calls this every ~400 ms)."""
        self.block_height += 1
        self._enter_slot(self.slot + 1)
        # Blockhashes expire only here: a transaction's slot leaves the block height as it is.
        while next(iter(self._blockhashes.values())) < self.block_height - MAX_PROCESSING_AGE:
            self._blockhashes.popitem(last=False)
        if self.ledger and self.slot >= self._slot_floor:
            self._slot_floor = self.slot + SLOT_RESERVATION
            self.ledger.set_state("slot_floor", str(self._slot_floor))
        self._sample_performance()
        for notify in self.slot_subscribers:
            notify(self.slot)

    def _sample_performance(self) -> None:
        since, slot, transactions = self._sampled
        now = self._clock()
        if now - since >= PERFORMANCE_SAMPLE_SECONDS:
            self.performance_samples.appendleft(PerformanceSample(
                self.slot, len(self.transactions) - transactions, self.slot - slot, PERFORMANCE_SAMPLE_SECONDS))
            self._sampled = (now, self.slot, len(self.transactions))

    @property
    def latest_blockhash(self) -> Hash:
        return next(reversed(self._blockhashes))

    @property
    def last_valid_block_height(self) -> int:
        return self.block_height + MAX_PROCESSING_AGE

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        made_at = self._blockhashes.get(blockhash)
        return made_at is not None and self.block_height - made_at <= MAX_PROCESSING_AGE

    # reading

    def account(self, pubkey: Pubkey) -> Account | None:
        return self.runtime.account(pubkey)

    def balance(self, pubkey: Pubkey) -> int:
        account = self.account(pubkey)
        return account.lamports if account else 0

    def accounts_owned_by(self, owner: Pubkey) -> list[tuple[Pubkey, Account]]:
        found = []
        for pubkey in sorted(self.known_accounts, key=bytes):
            account = self.account(pubkey)
            if account is not None and account.owner == owner:
                found.append((pubkey, account))
        return found

    def balances(self) -> list[tuple[Pubkey, int]]:
        """Every account the chain holds state for, with its lamports (programs and sysvars aside)."""
        return [(key, account.lamports) for key in self.known_accounts if (account := self.account(key)) is not None]

    def rent_exempt_minimum(self, size: int) -> int:
        return self.runtime.rent_exempt_minimum(size)

    # writing

    def simulate(self, tx: VersionedTransaction) -> TransactionOutcome:
        self._prepare(tx)
        return self.runtime.simulate(tx)

    def _prepare(self, tx: VersionedTransaction) -> None:
        """The SlotHashes sysvar, which only the lookup-table program reads (a table is created at a recent
        slot), is brought up to date for transactions that call it: keeping it current every slot would cost
        every transaction."""
        if ADDRESS_LOOKUP_TABLE_ID in tx.message.account_keys:
            self.runtime.set_slot_hashes([(slot, self.blockhash_of(slot))
                                          for slot in range(self.slot, max(self.slot - MAX_SLOT_HASHES, -1), -1)])

    def loaded_addresses(self, message) -> dict[str, list[Pubkey]]:
        """The addresses a v0 message's lookups load, in the order the runtime appends them; none when a table
        or an index is missing (the runtime then refuses the transaction itself)."""
        loaded: dict[str, list[Pubkey]] = {"writable": [], "readonly": []}
        for lookup in getattr(message, "address_table_lookups", []):
            table = self.account(lookup.account_key)
            try:
                addresses = AddressLookupTable.deserialize(bytes(table.data)).addresses if table else []
                loaded["writable"] += [addresses[i] for i in lookup.writable_indexes]
                loaded["readonly"] += [addresses[i] for i in lookup.readonly_indexes]
            except (ValueError, IndexError):
                return {"writable": [], "readonly": []}
        return loaded

    def send(self, tx: VersionedTransaction, preflight: bool = True) -> str:
        """Commits a transaction, or raises TransactionRejected as the validator would (a duplicate or a stale
        blockhash sent without preflight is answered with its signature and dropped, as a leader drops it).
        Returns the signature in base58, written once: encoding 64 bytes costs more than a transfer's bookkeeping."""
        message = tx.message  # solders copies the message on each read
        signature = str(tx.signatures[0])
        if not self._admitted(message, signature, preflight):
            return signature  # the validator forwards it unchecked and the leader drops it: it never lands
        loaded = self.loaded_addresses(message)
        keys = list(message.account_keys) + loaded["writable"] + loaded["readonly"]
        pre_balances = [self.runtime.balance(k) for k in keys]
        outcome, written = self._run(tx, message, loaded, preflight)
        self._enter_slot(self.slot + 1)
        record = {
            "signature": signature,
            "slot": self.slot,
            "blockTime": int(self._clock()),
            "transaction": base64.b64encode(bytes(tx)).decode(),
            "accountKeys": [address_text(k) for k in keys],  # the message's own, then those its lookup tables loaded
            "loadedAddresses": {kind: [address_text(k) for k in addresses] for kind, addresses in loaded.items()},
            "err": error_json(outcome.err),
            "logs": outcome.logs,
            "innerInstructions": outcome.inner_instructions,
            "unitsConsumed": outcome.compute_units,
            "fee": outcome.fee,
            "preBalances": pre_balances,
            "postBalances": [(account.lamports if (account := written[k]) else 0) if k in written else before
                             for k, before in zip(keys, pre_balances)],
            "returnData": outcome.return_data if outcome.err is None else None,
        }
        self._commit(record, keys, written)
        return signature

    def _admitted(self, message: Message | MessageV0, signature: str, preflight: bool) -> bool:
        """Whether the transaction may run; with preflight, the validator's refusal instead of False."""
        duplicate, expired = signature in self.transactions, not self.is_blockhash_valid(message.recent_blockhash)
        if preflight and duplicate:
            raise TransactionRejected("Transaction simulation failed: This transaction has already been processed",
                                      _rejection("AlreadyProcessed"))
        if preflight and expired:
            raise TransactionRejected("Transaction simulation failed: Blockhash not found", _rejection("BlockhashNotFound"))
        return not (duplicate or expired)

    def _run(self, tx: VersionedTransaction, message: Message | MessageV0, loaded: dict[str, list[Pubkey]],
             preflight: bool) -> tuple[TransactionOutcome, dict[Pubkey, Account | None]]:
        """Runs the transaction and keeps what it wrote: its outcome and the accounts it wrote (None: closed), or
        TransactionRejected if nothing commits."""
        if preflight:
            # LiteSVM verifies signatures in simulation as in execution.
            simulation = self.simulate(tx)
            if simulation.err is not None:
                raise TransactionRejected(f"Transaction simulation failed: {describe_error(simulation.err)}",
                                          simulation_json(simulation))
            return simulation, self._apply(tx, message, loaded, simulation)
        self._prepare(tx)
        outcome = self.runtime.execute(tx)
        # Errors before execution (bad signature, unknown payer, no funds for the fee) are never committed;
        # instruction errors are, with the fee.
        if outcome.err is not None and not isinstance(outcome.err, TransactionErrorInstructionError):
            raise TransactionRejected(f"Transaction simulation failed: {describe_error(outcome.err)}",
                                      {**_rejection(error_json(outcome.err)), "logs": outcome.logs})
        return outcome, self._writable_accounts(message, loaded)

    def _apply(self, tx: VersionedTransaction, message: Message | MessageV0, loaded: dict[str, list[Pubkey]],
               simulation: TransactionOutcome) -> dict[Pubkey, Account | None]:
        """Commits a successful simulation's writes (its post-accounts are the writable
        accounts), so the transaction runs once, not twice. Nothing ran in between (one
        thread), so they are exactly what running it again would write. Transactions that
        write programs themselves (deployments) run for real, to reach LiteSVM's cache."""
        written = simulation.post_accounts
        if any(a.executable or a.owner in NATIVE_LOADERS for a in written.values()):
            self.runtime.execute(tx)
            return self._writable_accounts(message, loaded)
        for key, account in written.items():
            self.runtime.set_account(key, account)
        return {key: account if account.lamports > 0 else None for key, account in written.items()}

    def _writable_accounts(self, message: Message | MessageV0,
                           loaded: dict[str, list[Pubkey]]) -> dict[Pubkey, Account | None]:
        """After a transaction ran: the accounts it could write, as they are now."""
        writable = is_writable(message)
        keys = [k for i, k in enumerate(message.account_keys) if writable(i)] + loaded["writable"]
        return {k: self.account(k) for k in keys}

    def _commit(self, record: dict, keys: list[Pubkey], written: dict[Pubkey, Account | None]) -> None:
        """Durable first (with a ledger), then indexed and announced."""
        if self.ledger:
            durable = [StoredAccount(k, a if a is not None else Account(0, b"", Pubkey.default(), False, 0))
                       for k, a in written.items() if self._persistable(a)]
            self.ledger.commit(record["signature"], record, durable, self._state())
        self._index(record)
        self.known_accounts.update(keys)
        commit = Commit(self.slot, record, written)
        for notify in list(self.subscribers):
            notify(commit)
        for notify in self.slot_subscribers:
            notify(self.slot)

    def _persistable(self, account: Account | None) -> bool:
        """Builtins, sysvars and the programs loaded at start are loaded anew; everything else is state, programs
        deployed through the upgradeable loader included."""
        return account is None or account.owner not in LOADED_AT_START

    def _index(self, record: dict) -> None:
        self.transactions[record["signature"]] = record
        self.by_slot[record["slot"]].append(record["signature"])
        for key in record["accountKeys"]:
            self.by_address[key].append(record["signature"])

    def airdrop(self, pubkey: Pubkey, lamports: int) -> str:
        if lamports <= 0 or lamports > self.balance(self.faucet.pubkey()) // 2:
            raise InvalidParams(f"airdrop of {lamports} lamports is out of the faucet's range")
        message = Message([transfer(TransferParams(from_pubkey=self.faucet.pubkey(), to_pubkey=pubkey, lamports=lamports))],
                          self.faucet.pubkey())
        tx = Transaction([self.faucet], message, self.latest_blockhash)
        return self.send(VersionedTransaction.from_legacy(tx))
