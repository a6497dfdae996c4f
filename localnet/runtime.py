"""An in-process Solana runtime (LiteSVM) with the Tessera program deployed.

This is the only place besides the program's own tests that touches LiteSVM;
everything else reaches a chain through JSON-RPC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

from solders.account import Account
from solders.clock import Clock  # type: ignore[attr-defined]
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from marketplace.chain import PROGRAM_ID, ProgramEvent, decode_events, program_so


# LiteSVM's fee structure, as on mainnet: 5,000 lamports per signature,
# charged to the fee payer whether the transaction succeeds or fails.
LAMPORTS_PER_SIGNATURE = 5_000


@dataclass(frozen=True)
class TransactionOutcome:
    signature: Signature
    logs: list[str]
    compute_units: int
    fee: int  # lamports the fee payer paid
    error: str | None = None  # the runtime's error, None on success
    custom_error: int | None = None  # the program's error code, when it returned one
    events: list[ProgramEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class LocalRuntime:
    """LiteSVM with the program loaded and its Clock following the given time."""

    def __init__(self, program: bytes | None = None, program_id: Pubkey = PROGRAM_ID, unix_time: int | None = None):
        self.program_id = program_id
        self._svm = LiteSVM()
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

    def rent_exempt_minimum(self, data_len: int) -> int:
        return self._svm.minimum_balance_for_rent_exemption(data_len)

    @property
    def unix_time(self) -> int:
        return self._svm.get_clock().unix_timestamp

    def set_unix_time(self, unix_time: int) -> None:
        clock = self._svm.get_clock()
        self._svm.set_clock(
            Clock(clock.slot, clock.epoch_start_timestamp, clock.epoch, clock.leader_schedule_epoch, unix_time)
        )

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
        result = self._svm.send_transaction(tx)
        # A fresh blockhash per transaction, so an identical retry is a new transaction.
        self._svm.expire_blockhash()
        fee = LAMPORTS_PER_SIGNATURE * len(tx.signatures)
        if hasattr(result, "err"):
            meta = result.meta()
            err = result.err()
            custom = None
            if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
                custom = err.err.code
            return TransactionOutcome(tx.signatures[0], list(meta.logs()), meta.compute_units_consumed(), fee, str(err), custom)
        logs = list(result.logs())
        return TransactionOutcome(tx.signatures[0], logs, result.compute_units_consumed(), fee, events=decode_events(logs))
