"""Step receipts: a stage's signature over what it was given and what it answered, for one step of a session.

A receipt binds (model, session, step, span, sha256 of the input bytes, sha256 of the output bytes) under the
stage's Solana key. The driver keeps the bytes themselves; with the receipt they are evidence that this stage
answered this output to this input, which a recomputation can then confirm or refute. A stage's commitment
for a job is the Merkle root of its receipts, in step order.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.merkle import merkle_root
from marketplace.pipeline.errors import ReceiptInvalid
from marketplace.pipeline.fragments import Span

DOMAIN = b"tessera/stage-step/v1\0"


@dataclass(frozen=True)
class StepReceipt:
    model: bytes  # model digest
    session: str
    step: int
    span: Span
    input_sha256: bytes
    output_sha256: bytes
    stage: Pubkey
    signature: Signature

    def signing_bytes(self) -> bytes:
        return step_bytes(self.model, self.session, self.step, self.span, self.input_sha256, self.output_sha256)

    def verify(self, input_bytes: bytes | None = None, output_bytes: bytes | None = None) -> None:
        """ReceiptInvalid unless the stage signed it and, when given, the bytes are the ones it names."""
        import hashlib

        if not self.signature.verify(self.stage, self.signing_bytes()):
            raise ReceiptInvalid(f"step {self.step} of session {self.session}: the signature is not {self.stage}'s")
        if input_bytes is not None and hashlib.sha256(input_bytes).digest() != self.input_sha256:
            raise ReceiptInvalid(f"step {self.step}: the input bytes are not the ones the receipt names")
        if output_bytes is not None and hashlib.sha256(output_bytes).digest() != self.output_sha256:
            raise ReceiptInvalid(f"step {self.step}: the output bytes are not the ones the receipt names")

    def header(self) -> str:
        """The receipt as one HTTP header value: base64 of signing bytes' fields and the signature."""
        return base64.b64encode(bytes(self.stage) + bytes(self.signature)).decode()

    @classmethod
    def from_header(cls, value: str, model: bytes, session: str, step: int, span: Span, input_sha256: bytes,
                    output_sha256: bytes) -> StepReceipt:
        """A stage's answer header, checked against what the driver sent and received."""
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ReceiptInvalid(f"the receipt header is not base64: {exc}") from exc
        if len(raw) != 32 + 64:
            raise ReceiptInvalid(f"a receipt header holds a key and a signature (96 bytes), not {len(raw)}")
        receipt = cls(model, session, step, span, input_sha256, output_sha256, Pubkey.from_bytes(raw[:32]),
                      Signature.from_bytes(raw[32:]))
        receipt.verify()
        return receipt


def step_bytes(model: bytes, session: str, step: int, span: Span, input_sha256: bytes, output_sha256: bytes) -> bytes:
    name = session.encode()
    return (DOMAIN + model + struct.pack("<H", len(name)) + name + struct.pack("<III", step, span.first, span.end)
            + input_sha256 + output_sha256)


def sign_step(keypair: Keypair, model: bytes, session: str, step: int, span: Span, input_sha256: bytes,
              output_sha256: bytes) -> StepReceipt:
    signature = keypair.sign_message(step_bytes(model, session, step, span, input_sha256, output_sha256))
    return StepReceipt(model, session, step, span, input_sha256, output_sha256, keypair.pubkey(), signature)


def receipts_root(receipts: Sequence[StepReceipt]) -> bytes:
    """What a stage commits for a job: the Merkle root of its receipts in step order."""
    return merkle_root([r.signing_bytes() for r in sorted(receipts, key=lambda r: (r.session, r.step))])
