"""Tessera's client SDK and CLI: pay per request for inference settled on Solana."""

from client.errors import (
    AggregatorRefused,
    BudgetExceeded,
    ChainRefused,
    InvalidRequest,
    JobFailed,
    JobTimeout,
    TesseraError,
)
from client.channel import PaymentChannel
from client.receipts import ChatResult, JobResult, Receipt, ShardResult
from client.sdk import SubmittedJob, TesseraClient
from client.sync import TesseraSyncClient

__all__ = [
    "AggregatorRefused", "BudgetExceeded", "ChainRefused", "ChatResult", "InvalidRequest", "JobFailed", "JobResult", "JobTimeout",
    "PaymentChannel", "Receipt", "ShardResult", "SubmittedJob", "TesseraClient", "TesseraError", "TesseraSyncClient",
]
