"""jsonParsed instructions (localnet/parsed_instructions.py): known programs parsed, anything else left compiled."""

from __future__ import annotations

from solders.keypair import Keypair
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token.constants import TOKEN_PROGRAM_ID

from localnet.parsed_instructions import parse_instruction

A, B = Keypair().pubkey(), Keypair().pubkey()


def test_a_transfer_is_parsed_with_its_accounts():
    data = (2).to_bytes(4, "little") + (5).to_bytes(8, "little")
    parsed = parse_instruction([A, B, SYSTEM_PROGRAM_ID], 2, [0, 1], data, 2)
    assert parsed == {"program": "system", "programId": str(SYSTEM_PROGRAM_ID), "stackHeight": 2,
                      "parsed": {"type": "transfer", "info": {"source": str(A), "destination": str(B), "lamports": 5}}}


def test_a_token_transfer_checked_shows_its_ui_amount():
    data = bytes([12]) + (12_345).to_bytes(8, "little") + bytes([3])
    parsed = parse_instruction([A, B, A, B, TOKEN_PROGRAM_ID], 4, [0, 1, 2, 3], data, None)
    assert parsed["parsed"]["info"]["tokenAmount"] == {"amount": "12345", "decimals": 3, "uiAmount": 12.345, "uiAmountString": "12.345"}


def test_what_no_decoder_takes_stays_compiled():
    unknown = Keypair().pubkey()
    for program, data in ((SYSTEM_PROGRAM_ID, (2).to_bytes(4, "little")),  # a transfer without its amount
                          (SYSTEM_PROGRAM_ID, (99).to_bytes(4, "little")), (TOKEN_PROGRAM_ID, bytes([200])),
                          (MEMO_PROGRAM_ID, b"\xff\xfe"), (unknown, b"\x01\x02")):
        shown = parse_instruction([A, B, program], 2, [0, 1], data, None)
        assert shown == {"programId": str(program), "accounts": [str(A), str(B)], "data": shown["data"], "stackHeight": None}, program
