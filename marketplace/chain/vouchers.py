"""Payment-channel vouchers: what an agent's authorizer signs off chain, and the Ed25519 precompile instruction that
shows the program the signature.

A voucher authorizes a cumulative amount, so the latest supersedes all before it. The message and the precompile's
data are fixed byte for byte: the program rebuilds both and compares (programs/tessera/include/tessera/voucher.h).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.chain.errors import InstructionArgumentError

VOUCHER_DOMAIN = b"tessera/voucher/v1"
ED25519_PROGRAM_ID = Pubkey.from_string("Ed25519SigVerify111111111111111111111111111")
THIS_INSTRUCTION = 0xFFFF  # an instruction index meaning "the precompile instruction itself"
KEY_OFFSET = 16  # after the signature count, a padding byte and one 14-byte offsets entry
SIGNATURE_OFFSET = KEY_OFFSET + 32
MESSAGE_OFFSET = SIGNATURE_OFFSET + 64
U64_MAX = 2**64 - 1


def voucher_message(channel: Pubkey, generation: int, amount: int) -> bytes:
    for what, value in (("generation", generation), ("amount", amount)):
        if not isinstance(value, int) or not 0 <= value <= U64_MAX:
            raise InstructionArgumentError(f"a voucher's {what} must be an integer from 0 to {U64_MAX}, got {value!r}")
    return VOUCHER_DOMAIN + bytes(channel) + struct.pack("<QQ", generation, amount)


@dataclass(frozen=True)
class Voucher:
    channel: Pubkey
    generation: int  # the channel's generation: a closed channel's vouchers never count for a new one
    amount: int  # lamports authorized in all, since the channel opened
    signature: Signature

    @classmethod
    def sign(cls, authorizer: Keypair, channel: Pubkey, generation: int, amount: int) -> Voucher:
        return cls(channel, generation, amount, authorizer.sign_message(voucher_message(channel, generation, amount)))

    @property
    def message(self) -> bytes:
        return voucher_message(self.channel, self.generation, self.amount)

    def to_json(self) -> dict:
        """As it travels over HTTP (the aggregator reads it back with its own checks)."""
        return {"channel": str(self.channel), "generation": self.generation, "amount": self.amount,
                "signature": str(self.signature)}

    def verify(self, authorizer: Pubkey) -> bool:
        return self.signature.verify(authorizer, self.message)

    def precompile_instruction(self, authorizer: Pubkey) -> Instruction:
        """The Ed25519 precompile checking this voucher, laid out as the program expects: every offset into its own
        data and every instruction index `THIS_INSTRUCTION`."""
        message = self.message
        offsets = struct.pack("<BB7H", 1, 0, SIGNATURE_OFFSET, THIS_INSTRUCTION, KEY_OFFSET, THIS_INSTRUCTION,
                              MESSAGE_OFFSET, len(message), THIS_INSTRUCTION)
        return Instruction(ED25519_PROGRAM_ID, offsets + bytes(authorizer) + bytes(self.signature) + message, [])
