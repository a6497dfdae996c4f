"""Instructions packed into as few transactions as a packet holds: pure, sizes only."""

from __future__ import annotations

from collections.abc import Sequence

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

PACKET_DATA_SIZE = 1_232  # bytes a transaction may take on the wire (what a validator accepts)


def wire_size(instructions: Sequence[Instruction], signers: Sequence[Keypair]) -> int:
    """Bytes the transaction takes in a packet (the blockhash's value does not change its size)."""
    return len(bytes(Transaction(list(signers), Message(list(instructions), signers[0].pubkey()), Hash.default())))


def pack(groups: Sequence[Sequence[Instruction]], signers: Sequence[Keypair]) -> list[list[int]]:
    """Groups of instructions that must travel together (a voucher's precompile check and its claim), in order, as
    many to a transaction as fit a packet: the groups' positions, a list per transaction. A group too large alone
    still gets a transaction of its own: the validator refuses it, with its own error."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for position, group in enumerate(groups):
        candidate = batch + [position]
        if batch and wire_size([i for p in candidate for i in groups[p]], signers) > PACKET_DATA_SIZE:
            batches.append(batch)
            candidate = [position]
        batch = candidate
    if batch:
        batches.append(batch)
    return batches
