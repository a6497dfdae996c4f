"""Bindings to the Tessera program, generated from its IDL with anchorpy.

Pure: building instructions, decoding accounts and events, naming errors.
Sending transactions and fetching accounts belong to the callers' RPC clients.
"""

from marketplace.chain.accounts import (
    AssignmentAccount,
    AssignmentStatus,
    ChannelAccount,
    EpochAccount,
    EpochEntry,
    JobAccount,
    MarketAccount,
    MarketConfig,
    ProviderAccount,
    ProviderStatus,
    Verdict,
)
from marketplace.chain.errors import AccountDecodeError, ChainError, ProgramError, program_error
from marketplace.chain.events import ProgramEvent, decode_events
from marketplace.chain.program import (
    PROGRAM_ID,
    assignment_address,
    channel_address,
    epoch_address,
    idl,
    job_address,
    market_address,
    program_so,
    provider_address,
)

__all__ = [
    "PROGRAM_ID",
    "AccountDecodeError",
    "AssignmentAccount",
    "AssignmentStatus",
    "ChannelAccount",
    "EpochAccount",
    "EpochEntry",
    "JobAccount",
    "Verdict",
    "assignment_address",
    "channel_address",
    "epoch_address",
    "job_address",
    "ChainError",
    "MarketAccount",
    "MarketConfig",
    "ProgramError",
    "ProgramEvent",
    "ProviderAccount",
    "ProviderStatus",
    "decode_events",
    "idl",
    "market_address",
    "program_error",
    "program_so",
    "provider_address",
]
