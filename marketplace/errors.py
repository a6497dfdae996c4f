"""Errors of the shared marketplace core. Each has a stable `code` that HTTP APIs return.

    MarketplaceError
    ├── MessageError                 a signed message was refused
    │   ├── MessageFormatError       malformed: missing or mistyped fields     (message_malformed)
    │   ├── SignatureInvalid         the signature does not verify            (signature_invalid)
    │   ├── MessageExpired           past its expiry, or expiring too far ahead (message_expired)
    │   ├── MessageReplayed          its nonce was seen before                (message_replayed)
    │   ├── WrongKind                signed for another purpose               (message_wrong_kind)
    │   └── WrongJob                 bound to another job                     (message_wrong_job)
    ├── ApiError                     an HTTP API answered with an error (its status and code)
    └── KeypairError                 a keypair file cannot be read            (keypair_unreadable)
"""

from __future__ import annotations


class MarketplaceError(Exception):
    code = "marketplace_error"


class MessageError(MarketplaceError):
    code = "message_invalid"


class MessageFormatError(MessageError):
    code = "message_malformed"


class SignatureInvalid(MessageError):
    code = "signature_invalid"


class MessageExpired(MessageError):
    code = "message_expired"


class MessageReplayed(MessageError):
    code = "message_replayed"


class WrongKind(MessageError):
    code = "message_wrong_kind"


class WrongJob(MessageError):
    code = "message_wrong_job"


class ApiError(MarketplaceError):
    """An HTTP API (the aggregator's, a node's) answered with an error: its status and stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class KeypairError(MarketplaceError):
    code = "keypair_unreadable"
