"""An in-process Solana runtime (LiteSVM) with the Tessera program deployed: the one owner of LiteSVM.

Running a transaction returns an outcome value (as solders' own results do), never raises for the
transaction's failure: the program tests read it, and localnet's chain (chain.py) turns it into what a
validator answers. Nothing else touches LiteSVM; everything else reaches a chain through JSON-RPC.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import based58
from solders.account import Account
from solders.clock import Clock  # type: ignore[attr-defined]
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import FeatureSet, LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from marketplace.chain import PROGRAM_ID, ProgramEvent, decode_events, program_so


# LiteSVM's fee structure, as on mainnet: 5,000 lamports per signature, the transaction's and those its
# signature-verifying precompile instructions check, charged to the fee payer whether it succeeds or fails.
LAMPORTS_PER_SIGNATURE = 5_000
PRECOMPILES = frozenset(Pubkey.from_string(p) for p in (
    "Ed25519SigVerify111111111111111111111111111", "KeccakSecp256k11111111111111111111111111111",
    "Secp256r1SigVerify1111111111111111111111111"))


def transaction_fee(message: Message | MessageV0) -> int:
    """What a validator charges for a message: its signatures, and those its precompile instructions verify (the
    first byte of their data counts them)."""
    keys = message.account_keys
    if PRECOMPILES.isdisjoint(keys):  # nearly every transaction: skip decoding its instructions
        return LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures
    verified = sum(ix.data[0] for ix in message.instructions if keys[ix.program_id_index] in PRECOMPILES and ix.data)
    return LAMPORTS_PER_SIGNATURE * (message.header.num_required_signatures + verified)


@dataclass(frozen=True)
class TransactionOutcome:
    signature: Signature
    logs: list[str]
    compute_units: int
    fee: int  # lamports the fee payer paid
    error: str | None = None  # the runtime's error, None on success
    custom_error: int | None = None  # the program's error code, when it returned one
    err: object = None  # the solders TransactionError itself
    return_data: dict | None = None  # {programId, data: [base64, "base64"]}, as RPC serves it
    post_accounts: dict[Pubkey, Account] = field(default_factory=dict)  # a successful simulation's writes
    inner_instructions: list[dict] = field(default_factory=list)  # the CPIs, as transaction meta serves them

    @property
    def ok(self) -> bool:
        return self.error is None

    @cached_property
    def events(self) -> list[ProgramEvent]:
        """The program's events, decoded from the logs when asked for (the chain server never asks)."""
        return decode_events(self.logs) if self.ok else []


def _inner_instructions(meta) -> list[dict]:
    """Per top-level instruction that made any, the instructions it invoked (account indexes into the message)."""
    return [{"index": index, "instructions": [
                {"programIdIndex": inner.instruction().program_id_index, "accounts": list(inner.instruction().accounts),
                 "data": based58.b58encode(bytes(inner.instruction().data)).decode(), "stackHeight": inner.stack_height()}
                for inner in invoked]}
            for index, invoked in enumerate(meta.inner_instructions()) if invoked]


def _return_data(meta) -> dict | None:
    data = meta.return_data()
    if data is None or not data.data:
        return None
    return {"programId": str(data.program_id), "data": [base64.b64encode(bytes(data.data)).decode(), "base64"]}


# Loader-v4's feature that refuses new loader-v3 deployments: inactive, as on the clusters and the validator whose
# RPC this serves, so programs deploy the way the Solana CLI deploys them (buffer, write, DeployWithMaxDataLen).
DISABLE_NEW_LOADER_V3_DEPLOYMENTS = Pubkey.from_string("EmhbpdVtZ2hWRGFWBDjn2i3SJD8Z36z4mpMcZJEnebnP")


def _feature_set() -> FeatureSet:
    every = FeatureSet.all_enabled()
    active = {feature: slot for feature, slot in every.active.items() if feature != DISABLE_NEW_LOADER_V3_DEPLOYMENTS}
    return FeatureSet(active, set(every.inactive) | {DISABLE_NEW_LOADER_V3_DEPLOYMENTS})


class LocalRuntime:
    """LiteSVM with the program loaded and its Clock following the given time.

    `keeps_history=False` leaves blockhashes, duplicate signatures and history to the caller (localnet's chain
    keeps them as a validator does); `spl_programs` loads SPL Token and friends."""

    def __init__(self, program: bytes | None = None, program_id: Pubkey = PROGRAM_ID, unix_time: int | None = None,
                 *, keeps_history: bool = True, spl_programs: bool = False):
        self.program_id = program_id
        self._svm = LiteSVM().with_builtins(_feature_set())
        if not keeps_history:
            self._svm.with_blockhash_check(False)
            self._svm.with_transaction_history(0)
        if spl_programs:
            self._svm.with_spl_programs()
        self._svm.add_program(program_id, program if program is not None else program_so())
        self.set_unix_time(int(time.time()) if unix_time is None else unix_time)

    @property
    def svm(self) -> LiteSVM:
        return self._svm

    def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        result = self._svm.airdrop(pubkey, lamports)
        if hasattr(result, "err"):
            raise RuntimeError(f"airdrop to {pubkey} failed: {result.err()}")

    def balance(self, pubkey: Pubkey) -> int:
        return self._svm.get_balance(pubkey) or 0

    def account(self, pubkey: Pubkey) -> Account | None:
        account = self._svm.get_account(pubkey)
        return account if account is not None and account.lamports > 0 else None

    def account_data(self, pubkey: Pubkey) -> bytes | None:
        account = self.account(pubkey)
        return bytes(account.data) if account is not None else None

    def set_account(self, pubkey: Pubkey, account: Account) -> None:
        self._svm.set_account(pubkey, account)

    def rent_exempt_minimum(self, data_len: int) -> int:
        return self._svm.minimum_balance_for_rent_exemption(data_len)

    @property
    def latest_blockhash(self) -> Hash:
        return self._svm.latest_blockhash()

    @property
    def unix_time(self) -> int:
        return self._svm.get_clock().unix_timestamp

    def set_unix_time(self, unix_time: int) -> None:
        clock = self._svm.get_clock()
        self.set_clock(Clock(clock.slot, clock.epoch_start_timestamp, clock.epoch, clock.leader_schedule_epoch, unix_time))

    def set_slot_hashes(self, hashes: list[tuple[int, Hash]]) -> None:
        self._svm.set_slot_hashes(hashes)

    def set_clock(self, clock: Clock) -> None:
        self._svm.set_clock(clock)

    def advance(self, seconds: int) -> None:
        self.set_unix_time(self.unix_time + seconds)

    def send(self, instructions: Sequence[Instruction], signers: Sequence[Keypair], payer: Pubkey | None = None) -> TransactionOutcome:
        """Sends one transaction; signers[0] pays unless `payer` is given."""
        payer = payer or signers[0].pubkey()
        message = Message(list(instructions), payer)
        # solders panics (uncatchable) on a signer mismatch: check first.
        required = set(message.account_keys[: message.header.num_required_signatures])
        given = {s.pubkey() for s in signers}
        if required != given:
            raise ValueError(
                f"signers do not match the transaction: missing {sorted(map(str, required - given))}, "
                f"unexpected {sorted(map(str, given - required))}"
            )
        tx = Transaction(list(signers), message, self._svm.latest_blockhash())
        outcome = self.execute(tx)
        # A fresh blockhash per transaction, so an identical retry is a new transaction.
        self._svm.expire_blockhash()
        return outcome

    def execute(self, tx: Transaction | VersionedTransaction) -> TransactionOutcome:
        """Runs a signed transaction and commits what it did; the outcome says how it went."""
        return self._outcome(tx, self._svm.send_transaction(tx), simulated=False)

    def simulate(self, tx: Transaction | VersionedTransaction) -> TransactionOutcome:
        """Runs a transaction without committing it; a success carries the accounts it would write."""
        return self._outcome(tx, self._svm.simulate_transaction(tx), simulated=True)

    @staticmethod
    def _outcome(tx, result, simulated: bool) -> TransactionOutcome:
        fee = transaction_fee(tx.message)
        if isinstance(result, FailedTransactionMetadata):
            meta, err = result.meta(), result.err()
            custom = None
            if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
                custom = err.err.code
            return TransactionOutcome(tx.signatures[0], list(meta.logs()), meta.compute_units_consumed(), fee, str(err),
                                      custom, err=err, return_data=_return_data(meta),
                                      inner_instructions=_inner_instructions(meta))
        meta = result.meta() if simulated else result
        logs = list(meta.logs())
        return TransactionOutcome(tx.signatures[0], logs, meta.compute_units_consumed(), fee,
                                  return_data=_return_data(meta), post_accounts=dict(result.post_accounts()) if simulated else {},
                                  inner_instructions=_inner_instructions(meta))
