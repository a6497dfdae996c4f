"""A local Solana chain for development and tests, backed by LiteSVM with the Tessera program deployed."""

from localnet.runtime import LocalRuntime, TransactionOutcome

__all__ = ["LocalRuntime", "TransactionOutcome"]
