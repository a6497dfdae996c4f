"""Instruction builders, one per program instruction, encoded by anchorpy from the IDL.

Account lists come from the IDL (names, writable, signer), so a builder
cannot disagree with the program about them; PDAs are derived here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import INSTRUCTIONS as INSTRUCTIONS_SYSVAR

from marketplace.chain.accounts import (
    MAX_SHARDS,
    MarketConfig,
    ProviderStatus,
    Verdict,
    encode_endpoint,
    enum_variant,
    shards_to_bitmap,
    status_variant,
)
from marketplace.chain.errors import InstructionArgumentError
from marketplace.chain.vouchers import Voucher
from marketplace.merkle import merkle_proof
from marketplace.chain.program import (
    PROGRAM_ID,
    assignment_address,
    channel_address,
    coder,
    epoch_address,
    idl,
    job_address,
    market_address,
    provider_address,
)

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1
DIGEST_BYTES = 32
MERKLE_MAX_DEPTH = 10  # a submission holds at most 1,024 shards


def _digest(value: bytes, what: str) -> list[int]:
    if not isinstance(value, (bytes, bytearray)) or len(value) != DIGEST_BYTES:
        raise InstructionArgumentError(f"{what} must be {DIGEST_BYTES} bytes")
    return list(value)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def build_instruction(
    name: str,
    args: dict,
    accounts: dict[str, Pubkey],
    program_id: Pubkey = PROGRAM_ID,
    remaining: Sequence[AccountMeta] = (),
) -> Instruction:
    """Any instruction of the IDL by its snake_case name, with every account named;
    `remaining` accounts follow them (settle's per-assignment accounts)."""
    spec = next((ix for ix in idl().instructions if _snake(ix.name) == name), None)
    if spec is None:
        raise InstructionArgumentError(f"the IDL has no instruction {name!r}")
    metas = []
    for account in spec.accounts:
        key = _snake(account.name)
        if key not in accounts:
            raise InstructionArgumentError(f"{name}: account {key!r} is missing")
        metas.append(AccountMeta(accounts[key], is_signer=account.is_signer, is_writable=account.is_mut))
    return Instruction(program_id, coder().instruction.encode(name, args), metas + list(remaining))


def _amount(value: int, what: str, maximum: int = U64_MAX) -> int:
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise InstructionArgumentError(f"{what} must be an integer from 0 to {maximum}, got {value!r}")
    return value


def initialize_market(authority: Pubkey, config: MarketConfig) -> Instruction:
    market, _ = market_address(authority)
    return build_instruction(
        "initialize_market",
        {"config": config.to_idl()},
        {"authority": authority, "market": market, "treasury": config.treasury, "system_program": SYSTEM_PROGRAM_ID},
    )


def update_market(authority: Pubkey, config: MarketConfig) -> Instruction:
    market, _ = market_address(authority)
    return build_instruction("update_market", {"config": config.to_idl()},
                             {"authority": authority, "market": market, "treasury": config.treasury})


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


def _job_terms(job_id: int, model_digest: bytes, input_root: bytes, seed_commitment: bytes, price_per_shard: int,
               deadline: int, shard_count: int) -> dict:
    """A job's terms as create_job and claim_channel both take them."""
    return {
        "model_digest": _digest(model_digest, "model_digest"),
        "input_root": _digest(input_root, "input_root"),
        "seed_commitment": _digest(seed_commitment, "seed_commitment"),
        "job_id": job_id,
        "price_per_shard": _amount(price_per_shard, "price_per_shard"),
        "deadline": _amount(deadline, "deadline", I64_MAX),
        "shard_count": _amount(shard_count, "shard_count", U32_MAX),
    }


def create_job(
    client: Pubkey,
    market: Pubkey,
    job_id: int,
    *,
    model_digest: bytes,
    input_root: bytes,
    seed_commitment: bytes,
    price_per_shard: int,
    deadline: int,
    shard_count: int,
) -> Instruction:
    """`job_id` is the client's choice (the aggregator quotes a random one); it seeds the Job PDA."""
    job, _ = job_address(market, _amount(job_id, "job_id"))
    return build_instruction(
        "create_job",
        _job_terms(job_id, model_digest, input_root, seed_commitment, price_per_shard, deadline, shard_count),
        {"client": client, "market": market, "job": job, "system_program": SYSTEM_PROGRAM_ID},
    )


def submit_results(owner: Pubkey, market: Pubkey, job: Pubkey, shards: Iterable[int], results_root: bytes) -> Instruction:
    provider, _ = provider_address(market, owner)
    assignment, _ = assignment_address(job, provider)
    return build_instruction(
        "submit_results",
        {"shards": shards_to_bitmap(shards), "results_root": _digest(results_root, "results_root")},
        {"owner": owner, "market": market, "provider": provider, "job": job, "assignment": assignment,
         "system_program": SYSTEM_PROGRAM_ID},
    )


@dataclass(frozen=True)
class SlashEvidence:
    """Why a provider is slashed, as the program checks it: the digest it committed for one shard, proven against its
    assignment's results root, and the referee's different digest. Anyone can re-run the shard and judge."""

    shard: int
    committed_digest: bytes
    referee_digest: bytes
    proof: tuple[bytes, ...]  # Merkle siblings from the leaf up

    @classmethod
    def build(cls, submission: Mapping[int, bytes], shard: int, referee_digest: bytes) -> SlashEvidence:
        """From the digests the provider committed, by shard: the results root's leaves in shard order."""
        order = sorted(submission)
        proof = merkle_proof([submission[s] for s in order], order.index(shard))
        return cls(shard, submission[shard], referee_digest, tuple(step.sibling for step in proof))


@dataclass(frozen=True)
class Settlement:
    """The verdict on one provider's pending submission to a job."""

    provider_owner: Pubkey
    verdict: Verdict
    accepted: frozenset[int] = frozenset()  # shards to pay: a subset of the submission
    evidence: SlashEvidence | None = None  # a slash's: it goes through `slash`, not `settle`


WITHHELD_SEED = bytes(32)  # settle with this reveals nothing: the seed stays secret until nothing can be submitted


def settle(
    verifier: Pubkey,
    market: Pubkey,
    job: Pubkey,
    client: Pubkey,
    treasury: Pubkey,
    seed: bytes,
    settlements: Sequence[Settlement],
) -> Instruction:
    remaining = []
    entries = []
    for s in settlements:
        provider, _ = provider_address(market, s.provider_owner)
        assignment, _ = assignment_address(job, provider)
        remaining += [
            AccountMeta(assignment, is_signer=False, is_writable=True),
            AccountMeta(provider, is_signer=False, is_writable=True),
            AccountMeta(s.provider_owner, is_signer=False, is_writable=True),
        ]
        entries.append({"verdict": enum_variant("Verdict", s.verdict), "accepted": shards_to_bitmap(s.accepted)})
    return build_instruction(
        "settle",
        {"seed": _digest(seed, "seed"), "entries": entries},
        {"verifier": verifier, "market": market, "job": job, "client": client, "treasury": treasury},
        remaining=remaining,
    )


def slash(verifier: Pubkey, market: Pubkey, job: Pubkey, client: Pubkey, treasury: Pubkey, provider_owner: Pubkey,
          accepted: Iterable[int], evidence: SlashEvidence) -> Instruction:
    """Settles a provider's pending submission as a fault, with the evidence the program checks and records."""
    if len(evidence.proof) > MERKLE_MAX_DEPTH:
        raise InstructionArgumentError(f"a Merkle proof has at most {MERKLE_MAX_DEPTH} steps")
    if not 0 <= evidence.shard < MAX_SHARDS:
        raise InstructionArgumentError(f"shard must be 0 to {MAX_SHARDS - 1}")
    provider, _ = provider_address(market, provider_owner)
    assignment, _ = assignment_address(job, provider)
    proof = [byte for step in evidence.proof for byte in _digest(step, "a proof step")]
    return build_instruction(
        "slash",
        {"accepted": shards_to_bitmap(accepted), "shard": evidence.shard,
         "committed_digest": _digest(evidence.committed_digest, "committed_digest"),
         "referee_digest": _digest(evidence.referee_digest, "referee_digest"),
         "proof": proof + [0] * (DIGEST_BYTES * MERKLE_MAX_DEPTH - len(proof))},
        {"verifier": verifier, "market": market, "job": job, "client": client, "treasury": treasury,
         "assignment": assignment, "provider": provider, "owner": provider_owner},
    )


def cancel_job(client: Pubkey, job: Pubkey) -> Instruction:
    return build_instruction("cancel_job", {}, {"client": client, "job": job})


def refund(client: Pubkey, job: Pubkey) -> Instruction:
    return build_instruction("refund", {}, {"client": client, "job": job})


def close_job(job: Pubkey, client: Pubkey) -> Instruction:
    return build_instruction("close_job", {}, {"job": job, "client": client})


def close_epoch_job(job: Pubkey, payer: Pubkey, channels: Sequence[Pubkey]) -> Instruction:
    """close_job for an epoch job: its epoch is the client, then the rent payer and the channels the epoch records,
    in its order (the same channel twice where it claimed twice)."""
    remaining = [AccountMeta(payer, is_signer=False, is_writable=True)]
    remaining += [AccountMeta(channel, is_signer=False, is_writable=True) for channel in channels]
    return build_instruction("close_job", {}, {"job": job, "client": epoch_address(job)[0]}, remaining=remaining)


def close_assignment(owner: Pubkey, market: Pubkey, job: Pubkey) -> Instruction:
    provider, _ = provider_address(market, owner)
    assignment, _ = assignment_address(job, provider)
    return build_instruction("close_assignment", {}, {"owner": owner, "provider": provider, "assignment": assignment, "job": job})


def unwind_assignment(market: Pubkey, job: Pubkey, provider: Pubkey) -> Instruction:
    """Anyone's, past the job's deadline plus the market's grace period: releases an unsettled assignment."""
    assignment, _ = assignment_address(job, provider)
    return build_instruction("unwind_assignment", {}, {"market": market, "job": job, "assignment": assignment,
                                                       "provider": provider})


def serve_cached(verifier: Pubkey, market: Pubkey, job: Pubkey, treasury: Pubkey, shards: Iterable[int]) -> Instruction:
    return build_instruction(
        "serve_cached", {"shards": shards_to_bitmap(shards)},
        {"verifier": verifier, "market": market, "job": job, "treasury": treasury},
    )


def open_channel(owner: Pubkey, market: Pubkey, authorizer: Pubkey, deposit: int, withdraw_delay: int) -> Instruction:
    channel, _ = channel_address(market, owner)
    return build_instruction(
        "open_channel",
        {"authorizer": authorizer, "deposit": _amount(deposit, "deposit"),
         "withdraw_delay": _amount(withdraw_delay, "withdraw_delay", I64_MAX)},
        {"owner": owner, "market": market, "channel": channel, "system_program": SYSTEM_PROGRAM_ID},
    )


def top_up_channel(owner: Pubkey, channel: Pubkey, amount: int) -> Instruction:
    return build_instruction("top_up_channel", {"amount": _amount(amount, "amount")},
                             {"owner": owner, "channel": channel, "system_program": SYSTEM_PROGRAM_ID})


def claim_channel(
    verifier: Pubkey,
    market: Pubkey,
    job_id: int,
    voucher: Voucher,
    authorizer: Pubkey,
    *,
    model_digest: bytes,
    input_root: bytes,
    seed_commitment: bytes,
    price_per_shard: int,
    deadline: int,
    shard_count: int,
) -> list[Instruction]:
    """The voucher's precompile check and the claim that opens a job funded by the channel: two instructions, in
    this order, that must travel together in one transaction."""
    job, _ = job_address(market, _amount(job_id, "job_id"))
    claim = build_instruction(
        "claim_channel",
        {**_job_terms(job_id, model_digest, input_root, seed_commitment, price_per_shard, deadline, shard_count),
         "voucher_amount": _amount(voucher.amount, "voucher amount")},
        {"verifier": verifier, "market": market, "channel": voucher.channel, "job": job,
         "instructions": INSTRUCTIONS_SYSVAR, "system_program": SYSTEM_PROGRAM_ID},
    )
    return [voucher.precompile_instruction(authorizer), claim]


def open_epoch(
    verifier: Pubkey,
    market: Pubkey,
    job_id: int,
    *,
    model_digest: bytes,
    input_root: bytes,
    seed_commitment: bytes,
    price_per_shard: int,
    deadline: int,
    shard_count: int,
) -> Instruction:
    """An epoch job for the requests of many channels, funded afterwards by claim_epoch, one claim per channel."""
    job, _ = job_address(market, _amount(job_id, "job_id"))
    return build_instruction(
        "open_epoch",
        _job_terms(job_id, model_digest, input_root, seed_commitment, price_per_shard, deadline, shard_count),
        {"verifier": verifier, "market": market, "job": job, "epoch": epoch_address(job)[0],
         "system_program": SYSTEM_PROGRAM_ID},
    )


def claim_epoch(verifier: Pubkey, market: Pubkey, job: Pubkey, voucher: Voucher, authorizer: Pubkey,
                shard_count: int) -> list[Instruction]:
    """The voucher's precompile check and the claim that pays for the epoch job's next `shard_count` shards from
    the voucher's channel: two instructions, in this order, that must travel together in one transaction."""
    claim = build_instruction(
        "claim_epoch",
        {"voucher_amount": _amount(voucher.amount, "voucher amount"),
         "shard_count": _amount(shard_count, "shard_count", U32_MAX)},
        {"verifier": verifier, "market": market, "channel": voucher.channel, "job": job,
         "epoch": epoch_address(job)[0], "instructions": INSTRUCTIONS_SYSVAR},
    )
    return [voucher.precompile_instruction(authorizer), claim]


def request_withdraw(owner: Pubkey, channel: Pubkey) -> Instruction:
    return build_instruction("request_withdraw", {}, {"owner": owner, "channel": channel})


def withdraw(owner: Pubkey, channel: Pubkey) -> Instruction:
    return build_instruction("withdraw", {}, {"owner": owner, "channel": channel})
