"""What holds a stage to its answers: its signed receipts with the bytes they name, checked against the digest it
committed on chain. Pure: no model, no network.

A slashed stage's evidence is published for anyone to judge: the receipts must be signed by the slashed provider's
owner, their Merkle root must be the digest the program proved against its commitment, and the bytes must hash to
what each receipt names; then re-running the span on the input says whether the output was the model's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.pipeline.activations import BYTES_PER_VALUE
from marketplace.pipeline.errors import ReceiptInvalid
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.receipts import StepReceipt, receipts_root


@dataclass(frozen=True)
class StageEvidence:
    receipts: tuple[StepReceipt, ...]
    steps: tuple[int, ...]  # tokens in each step, so the bytes split into the steps the receipts name
    inputs: bytes  # every step's input, in order: the whole sequence from position 0
    outputs: bytes

    def to_json(self) -> dict:
        first = self.receipts[0]
        return {"model": first.model.hex(), "session": first.session, "layers": str(first.span), "stage": str(first.stage),
                "steps": [{"step": r.step, "tokens": t, "input_sha256": r.input_sha256.hex(),
                           "output_sha256": r.output_sha256.hex(), "signature": str(r.signature)}
                          for r, t in zip(self.receipts, self.steps)],
                "inputs": base64.b64encode(self.inputs).decode(), "outputs": base64.b64encode(self.outputs).decode()}

    @classmethod
    def from_json(cls, data: object) -> StageEvidence:
        try:
            model, span, stage = bytes.fromhex(data["model"]), Span.parse(data["layers"]), Pubkey.from_string(data["stage"])
            receipts = tuple(StepReceipt(model, data["session"], int(s["step"]), span, bytes.fromhex(s["input_sha256"]),
                                         bytes.fromhex(s["output_sha256"]), stage, Signature.from_string(s["signature"]))
                             for s in data["steps"])
            steps = tuple(int(s["tokens"]) for s in data["steps"])
            inputs = base64.b64decode(data["inputs"], validate=True)
            outputs = base64.b64decode(data["outputs"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ReceiptInvalid(f"malformed stage evidence: {exc!r}") from exc
        if not receipts:
            raise ReceiptInvalid("stage evidence has no receipts")
        return cls(receipts, steps, inputs, outputs)

    def verify(self, owner: Pubkey, committed_digest: bytes, hidden_size: int) -> None:
        """ReceiptInvalid unless `owner` signed every step, the receipts' root is `committed_digest`, and the bytes are
        the ones the receipts name."""
        if any(r.stage != owner for r in self.receipts):
            raise ReceiptInvalid(f"the receipts are not signed by the slashed provider's owner {owner}")
        if receipts_root(self.receipts) != committed_digest:
            raise ReceiptInvalid("the receipts' Merkle root is not the digest committed on chain")
        row = hidden_size * BYTES_PER_VALUE
        if len(self.inputs) != len(self.outputs) or len(self.inputs) != sum(self.steps) * row:
            raise ReceiptInvalid("the bytes do not hold the tokens the steps name")
        offset = 0
        for receipt, tokens in zip(self.receipts, self.steps):
            end = offset + tokens * row
            receipt.verify()
            if (hashlib.sha256(self.inputs[offset:end]).digest() != receipt.input_sha256
                    or hashlib.sha256(self.outputs[offset:end]).digest() != receipt.output_sha256):
                raise ReceiptInvalid(f"step {receipt.step}'s bytes are not the ones its receipt names")
            offset = end
