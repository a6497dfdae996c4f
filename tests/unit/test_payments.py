"""The aggregator's voucher checks, without a chain: each refusal has its code, and an exact voucher passes."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.aggregator.errors import BadRequest, Forbidden, PaymentRequired
from marketplace.aggregator.payments import ChannelState, check_voucher, parse_voucher
from marketplace.chain import ChannelAccount
from marketplace.chain.vouchers import Voucher

MARKET, CHANNEL = Pubkey.new_unique(), Pubkey.new_unique()
AUTHORIZER = Keypair()
COST, RENT = 204_000, 2_500_000


def state(claimed: int = 1_000_000, free: int = 10**9, market: Pubkey = MARKET) -> ChannelState:
    account = ChannelAccount(market, Pubkey.new_unique(), AUTHORIZER.pubkey(), claimed, 7, 3_600, 0, 0, 255)
    return ChannelState(CHANNEL, account, free, slot=1)


def voucher(amount: int, signer: Keypair = AUTHORIZER, generation: int = 7, channel: Pubkey = CHANNEL) -> Voucher:
    return Voucher.sign(signer, channel, generation, amount)


def test_a_voucher_for_exactly_what_is_paid_plus_the_cost_passes():
    check_voucher(state(), MARKET, voucher(1_000_000 + COST), AUTHORIZER.pubkey(), COST, RENT)


@pytest.mark.parametrize("make, error, code", [
    (lambda: (state(), voucher(1_000_000 + COST - 1)), PaymentRequired, "voucher_too_small"),
    (lambda: (state(), voucher(10**8, generation=6)), PaymentRequired, "voucher_stale"),
    (lambda: (state(), Voucher(CHANNEL, 7, 10**8, Keypair().sign_message(b"other"))), PaymentRequired, "voucher_signature_invalid"),
    (lambda: (state(free=COST + RENT - 1), voucher(10**8)), PaymentRequired, "channel_underfunded"),
    (lambda: (state(), voucher(10**8, channel=Pubkey.new_unique())), Forbidden, "voucher_wrong_channel"),
    (lambda: (state(market=Pubkey.new_unique()), voucher(10**8)), Forbidden, "voucher_wrong_channel"),
])
def test_vouchers_that_do_not_pay_are_refused_with_their_code(make, error, code):
    channel, offered = make()
    with pytest.raises(error) as refused:
        check_voucher(channel, MARKET, offered, AUTHORIZER.pubkey(), COST, RENT)
    assert refused.value.code == code


def test_a_request_behind_its_concurrent_twins_is_paid_by_the_highest_voucher_held():
    """Vouchers signed in order reach the claim out of order: what the agent authorized in all still pays; with
    nothing held, the voucher alone must."""
    behind, highest = voucher(1_000_000), voucher(1_000_000 + 2 * COST)
    assert check_voucher(state(), MARKET, behind, AUTHORIZER.pubkey(), COST, RENT, held=highest) == highest
    assert check_voucher(state(), MARKET, highest, AUTHORIZER.pubkey(), COST, RENT, held=behind) == highest
    with pytest.raises(PaymentRequired, match="sign at least"):
        check_voucher(state(), MARKET, behind, AUTHORIZER.pubkey(), COST, RENT)
    with pytest.raises(PaymentRequired) as forged:  # a held voucher never vouches for a bad one
        check_voucher(state(), MARKET, voucher(10**8, signer=Keypair()), AUTHORIZER.pubkey(), COST, RENT, held=highest)
    assert forged.value.code == "voucher_signature_invalid"


def test_requests_served_in_epochs_and_not_yet_claimed_count_as_paid():
    """What a channel owes for requests served ahead of their epoch's claim is counted as claimed already, against
    its vouchers and its balance: a voucher covering only the claims, or a balance covering only this request,
    does not pay."""
    owed = 3 * COST
    check_voucher(state(), MARKET, voucher(1_000_000 + owed + COST), AUTHORIZER.pubkey(), COST, 0, owed=owed)
    with pytest.raises(PaymentRequired) as short:
        check_voucher(state(), MARKET, voucher(1_000_000 + COST), AUTHORIZER.pubkey(), COST, 0, owed=owed)
    assert short.value.code == "voucher_too_small"
    with pytest.raises(PaymentRequired) as underfunded:
        check_voucher(state(free=owed + COST - 1), MARKET, voucher(10**8), AUTHORIZER.pubkey(), COST, 0, owed=owed)
    assert underfunded.value.code == "channel_underfunded"


def test_only_the_authorizer_may_ask():
    with pytest.raises(Forbidden) as refused:
        check_voucher(state(), MARKET, voucher(10**8), Keypair().pubkey(), COST, RENT)
    assert refused.value.code == "voucher_not_authorizer"


@pytest.mark.parametrize("raw", [
    None, {}, {"channel": str(CHANNEL), "generation": 1, "amount": 1},
    {"channel": str(CHANNEL), "generation": 1, "amount": -1, "signature": "1" * 64},
    {"channel": str(CHANNEL), "generation": True, "amount": 1, "signature": "1" * 64},
    {"channel": str(CHANNEL), "generation": 1, "amount": 2**63, "signature": "1" * 64},
    {"channel": "not a key", "generation": 1, "amount": 1, "signature": "1" * 64},
    {"channel": str(CHANNEL), "generation": 1, "amount": 1, "signature": "not base58!"},
    {"channel": str(CHANNEL), "generation": 1, "amount": 1, "signature": "1" * 64, "extra": 0},
])
def test_malformed_vouchers_are_bad_requests(raw):
    with pytest.raises(BadRequest):
        parse_voucher(raw)


def test_a_wire_voucher_parses_back():
    signed = voucher(123)
    raw = signed.to_json()
    assert raw == {"channel": str(CHANNEL), "generation": 7, "amount": 123, "signature": str(signed.signature)}
    assert parse_voucher(raw) == signed and parse_voucher(raw).verify(AUTHORIZER.pubkey())
