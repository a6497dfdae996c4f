"""Errors of the local chain, as JSON-RPC errors with the validator's codes.

    LocalnetError
    └── RpcError                 answered to the client as a JSON-RPC error
        ├── ParseError           -32700 body is not JSON
        ├── InvalidRequest       -32600 not a JSON-RPC 2.0 request
        ├── MethodNotFound       -32601
        ├── InvalidParams        -32602
        └── TransactionRejected  -32002 preflight failed, unknown blockhash, duplicate
"""

from __future__ import annotations

from typing import Any


class LocalnetError(Exception):
    """Base of localnet's errors."""


class RpcError(LocalnetError):
    code = -32603  # internal error

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_json(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(RpcError):
    code = -32700


class InvalidRequest(RpcError):
    code = -32600


class MethodNotFound(RpcError):
    code = -32601


class InvalidParams(RpcError):
    code = -32602


class TransactionRejected(RpcError):
    code = -32002


class BlockNotAvailable(RpcError):
    code = -32004
