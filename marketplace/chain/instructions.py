"""Instruction builders, one per program instruction, encoded by anchorpy from the IDL.

Account lists come from the IDL (names, writable, signer), so a builder
cannot disagree with the program about them; PDAs are derived here.
"""

from __future__ import annotations

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from marketplace.chain.accounts import MarketConfig, ProviderStatus, encode_endpoint, status_variant
from marketplace.chain.errors import InstructionArgumentError
from marketplace.chain.program import PROGRAM_ID, coder, idl, market_address, provider_address

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def build_instruction(name: str, args: dict, accounts: dict[str, Pubkey], program_id: Pubkey = PROGRAM_ID) -> Instruction:
    """Any instruction of the IDL by its snake_case name, with every account named."""
    spec = next((ix for ix in idl().instructions if _snake(ix.name) == name), None)
    if spec is None:
        raise InstructionArgumentError(f"the IDL has no instruction {name!r}")
    metas = []
    for account in spec.accounts:
        key = _snake(account.name)
        if key not in accounts:
            raise InstructionArgumentError(f"{name}: account {key!r} is missing")
        metas.append(AccountMeta(accounts[key], is_signer=account.is_signer, is_writable=account.is_mut))
    return Instruction(program_id, coder().instruction.encode(name, args), metas)


def _amount(value: int, what: str, maximum: int = U64_MAX) -> int:
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise InstructionArgumentError(f"{what} must be an integer from 0 to {maximum}, got {value!r}")
    return value


def initialize_market(authority: Pubkey, config: MarketConfig) -> Instruction:
    market, _ = market_address(authority)
    return build_instruction(
        "initialize_market",
        {"config": config.to_idl()},
        {"authority": authority, "market": market, "system_program": SYSTEM_PROGRAM_ID},
    )


def update_market(authority: Pubkey, config: MarketConfig) -> Instruction:
    market, _ = market_address(authority)
    return build_instruction("update_market", {"config": config.to_idl()}, {"authority": authority, "market": market})


def register_provider(owner: Pubkey, market: Pubkey, endpoint: str, stake: int, capacity: int) -> Instruction:
    provider, _ = provider_address(market, owner)
    return build_instruction(
        "register_provider",
        {
            "endpoint": encode_endpoint(endpoint),
            "stake": _amount(stake, "stake"),
            "capacity": _amount(capacity, "capacity", U32_MAX),
        },
        {"owner": owner, "market": market, "provider": provider, "system_program": SYSTEM_PROGRAM_ID},
    )


def add_stake(owner: Pubkey, market: Pubkey, amount: int) -> Instruction:
    provider, _ = provider_address(market, owner)
    return build_instruction(
        "add_stake",
        {"amount": _amount(amount, "amount")},
        {"owner": owner, "market": market, "provider": provider, "system_program": SYSTEM_PROGRAM_ID},
    )


def request_unstake(owner: Pubkey, market: Pubkey, amount: int) -> Instruction:
    provider, _ = provider_address(market, owner)
    return build_instruction(
        "request_unstake", {"amount": _amount(amount, "amount")}, {"owner": owner, "market": market, "provider": provider}
    )


def withdraw_stake(owner: Pubkey, market: Pubkey) -> Instruction:
    provider, _ = provider_address(market, owner)
    return build_instruction("withdraw_stake", {}, {"owner": owner, "provider": provider})


def update_provider(owner: Pubkey, market: Pubkey, endpoint: str, capacity: int, status: ProviderStatus) -> Instruction:
    provider, _ = provider_address(market, owner)
    return build_instruction(
        "update_provider",
        {
            "endpoint": encode_endpoint(endpoint),
            "capacity": _amount(capacity, "capacity", U32_MAX),
            "status": status_variant(ProviderStatus(status)),
        },
        {"owner": owner, "provider": provider},
    )
