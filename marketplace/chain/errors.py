"""Errors of the chain bindings.

    ChainError
    ├── AccountDecodeError   bytes are not an account of the expected type
    ├── InstructionArgumentError  an argument cannot be encoded (out of range, too long)
    └── ProgramError         the program rejected an instruction with a custom code
"""

from __future__ import annotations

from marketplace.chain.program import idl_json


class ChainError(Exception):
    """Base of the chain bindings' errors."""


class AccountDecodeError(ChainError):
    """The account data is not the expected type (wrong size or discriminator)."""


class InstructionArgumentError(ChainError):
    """An instruction argument is out of its type's range."""


class ProgramError(ChainError):
    """A custom error returned by the Tessera program, named as in the IDL."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"{name} ({code}): {message}")
        self.code = code
        self.name = name
        self.message = message


def program_error(code: int) -> ProgramError | None:
    """The named error for a custom code, or None if the IDL has no such code."""
    for err in idl_json()["errors"]:
        if err["code"] == code:
            return ProgramError(code, err["name"], err["msg"])
    return None
