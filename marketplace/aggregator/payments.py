"""Paying by voucher: what an aggregator checks before it serves a request paid from a payment channel.

Pure: the channel as the chain last showed it, the highest voucher this market already holds for it and the
request's cost come in; the voucher is accepted or refused with a stable code. Signatures are checked here,
in microseconds; the program checks the same voucher again when it is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.aggregator.errors import BadRequest, Forbidden, PaymentRequired
from marketplace.chain import ChannelAccount
from marketplace.chain.instructions import I64_MAX  # more lamports than exist; what the database stores
from marketplace.chain.vouchers import Voucher


@dataclass(frozen=True)
class ChannelState:
    address: Pubkey
    account: ChannelAccount
    free: int  # lamports above the channel's rent
    slot: int  # the chain's slot it was read at


def parse_voucher(raw: Any) -> Voucher:
    """A voucher as clients send it: {channel, generation, amount, signature (base58)}."""
    if not isinstance(raw, dict) or set(raw) != {"channel", "generation", "amount", "signature"}:
        raise BadRequest("a voucher is {channel, generation, amount, signature}")
    for name in ("generation", "amount"):
        if not isinstance(raw[name], int) or isinstance(raw[name], bool) or not 0 <= raw[name] <= I64_MAX:
            raise BadRequest(f"the voucher's {name} must be an integer from 0 to {I64_MAX}")
    try:
        return Voucher(Pubkey.from_string(raw["channel"]), raw["generation"], raw["amount"],
                       Signature.from_string(raw["signature"]))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"the voucher's channel or signature is malformed: {exc}") from exc


def check_voucher(state: ChannelState, market: Pubkey, voucher: Voucher, signer: Pubkey, cost: int, job_rent: int,
                  held: Voucher | None = None, owed: int = 0) -> Voucher:
    """Accepts `voucher` as payment of `cost` (the request's most: its escrow) or raises with a stable code; returns
    the voucher to claim with.

    The request must come from the channel's authorizer; the voucher must be this generation's, signed by it,
    and authorize at least `cost` beyond what the channel has paid so far (amounts only grow, so an older
    voucher authorizes nothing more); the channel must hold that and the job's rent. `held`: the highest voucher
    this market already holds for the channel: a request (never a replay: the caller refuses those) may be paid by
    what the agent authorized in all, since concurrent requests reach the claim in any order. `owed`: what this
    market's requests may still take from the channel beyond what `state` shows (ChannelPayments.owed), counted as
    paid already."""
    account = state.account
    if voucher.channel != state.address or account.market != market:
        raise Forbidden("the voucher names another channel, or the channel belongs to another market", "voucher_wrong_channel")
    if signer != account.authorizer:
        raise Forbidden("requests paid from a channel are signed by its authorizer", "voucher_not_authorizer")
    if voucher.generation != account.generation:
        raise PaymentRequired(f"the voucher is for generation {voucher.generation} of the channel, which is at "
                              f"{account.generation}", "voucher_stale")
    if not voucher.verify(account.authorizer):
        raise PaymentRequired("the voucher's signature is not the authorizer's", "voucher_signature_invalid")
    paying = held if held is not None and held.amount > voucher.amount else voucher
    paid = account.claimed + owed
    if paying.amount < paid + cost:
        raise PaymentRequired(f"the voucher authorizes {paying.amount:,} lamports in all; {paid:,} are paid already and "
                              f"this request costs up to {cost:,}: sign at least {paid + cost:,}", "voucher_too_small")
    if owed + cost + job_rent > state.free:
        raise PaymentRequired(f"the channel holds {state.free:,} lamports; this request needs {cost:,} plus {job_rent:,} of "
                              f"rent that comes back when its job closes, and {owed:,} are owed for requests served: "
                              f"top it up", "channel_underfunded")
    return paying
