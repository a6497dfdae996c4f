"""A local Solana chain for development and tests, backed by LiteSVM with the Tessera program deployed."""

from localnet.runtime import LAMPORTS_PER_SIGNATURE, LocalRuntime, TransactionOutcome

__all__ = ["LAMPORTS_PER_SIGNATURE", "LocalRuntime", "TransactionOutcome"]
