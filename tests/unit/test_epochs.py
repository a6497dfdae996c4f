"""Epochs' pure parts: the layout channel by channel, the draw of checked shards by place, packing claims."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.aggregator.epochs import PROVISIONAL, Placed, lay_out
from marketplace.chain import instructions as ix
from marketplace.chain.packing import PACKET_DATA_SIZE, pack, wire_size
from marketplace.chain.vouchers import Voucher
from marketplace.economics import bps_ceil
from marketplace.verification import epoch_sampled


def test_each_channels_shards_are_laid_out_contiguous_in_the_order_they_came():
    came = [("a", 0), ("b", 0), ("a", 1), ("c", 0), ("b", 1), ("a", 2)]
    layout = lay_out(Placed(PROVISIONAL + i, channel, seq) for i, (channel, seq) in enumerate(came))
    assert layout.entries == [("a", 0, 3), ("b", 3, 2), ("c", 5, 1)]
    assert [layout.indices[PROVISIONAL + i] for i in range(6)] == [0, 3, 1, 5, 4, 2]
    assert sorted(layout.indices.values()) == list(range(6))


def test_a_layout_refuses_places_with_a_gap():
    with pytest.raises(ValueError, match="not 0 to 1"):
        lay_out([Placed(PROVISIONAL, "a", 0), Placed(PROVISIONAL + 1, "a", 2)])


def test_checked_shards_are_drawn_by_place_within_each_channels_budget():
    seed, job = bytes(range(32)), str(Pubkey.new_unique())
    drawn = epoch_sampled(seed, job, "a", 400, 2_500)
    # A request that comes later never changes the draws before it: what was checked stays checked.
    assert epoch_sampled(seed, job, "a", 200, 2_500) == [s for s in drawn if s < 200]
    for count in range(1, 401):  # at every point within what the channel's escrow pays for so far
        assert sum(s < count for s in drawn) <= bps_ceil(count, 2_500)
    assert 50 < len(drawn) <= 100
    assert epoch_sampled(seed, job, "b", 400, 2_500) != drawn  # each channel's own draw
    assert epoch_sampled(seed, job, "a", 400, 0) == []


def test_claims_are_packed_into_as_few_transactions_as_packets_hold():
    verifier, market, job = Keypair(), Pubkey.new_unique(), Pubkey.new_unique()
    groups = []
    for _ in range(10):
        authorizer = Keypair()
        voucher = Voucher.sign(authorizer, Pubkey.new_unique(), 0, 10**9)
        groups.append(ix.claim_epoch(verifier.pubkey(), market, job, voucher, authorizer.pubkey(), 100))
    batches = pack(groups, [verifier])
    assert [p for batch in batches for p in batch] == list(range(10))  # in order, each once
    assert all(wire_size([i for p in batch for i in groups[p]], [verifier]) <= PACKET_DATA_SIZE for batch in batches)
    assert all(wire_size([i for p in batch + [batch[-1] + 1] for i in groups[p]], [verifier]) > PACKET_DATA_SIZE
               for batch in batches[:-1])  # none could take the next
    assert len(batches) < 10
