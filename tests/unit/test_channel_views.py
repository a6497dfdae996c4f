"""The aggregator's view of payment channels: read once, used for VIEW_SECONDS, read again to refuse or once old."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from marketplace.aggregator import channel_views
from marketplace.aggregator.channel_views import VIEW_SECONDS, ChannelViews
from marketplace.aggregator.errors import Conflict, PaymentRequired
from marketplace.aggregator.payments import ChannelState
from marketplace.chain import ChannelAccount

CHANNEL = Pubkey.new_unique()


class Chain:
    """What the chain shows of each channel: its free lamports, read as often as the views ask."""

    def __init__(self) -> None:
        self.free: dict[Pubkey, int] = {CHANNEL: 1_000}
        self.slot = 10
        self.reads = 0

    async def read(self, channel: Pubkey) -> ChannelState:
        self.reads += 1
        account = ChannelAccount(Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique(), 0, 1, 3_600, 0, 0, 255)
        return ChannelState(channel, account, self.free[channel], self.slot)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def affording(cost: int):
    async def check(state: ChannelState) -> ChannelState:
        if state.free < cost:
            raise PaymentRequired(f"{state.free} < {cost}", "channel_underfunded")
        return state
    return check


@pytest.fixture
def chain() -> Chain:
    return Chain()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def views(chain, clock) -> ChannelViews:
    return ChannelViews(chain.read, clock)


async def test_a_channel_is_read_once_then_checked_on_its_view_until_the_view_is_old(views, chain, clock):
    for _ in range(50):
        assert (await views.check(CHANNEL, affording(10))).free == 1_000
    assert chain.reads == 1
    chain.free[CHANNEL], chain.slot = 900, 11
    clock.now += VIEW_SECONDS + 0.01
    state = await views.check(CHANNEL, affording(10))
    assert (state.free, state.slot, chain.reads) == (900, 11, 2)


async def test_a_refusal_on_a_view_read_earlier_is_checked_again_on_the_chain(views, chain):
    await views.check(CHANNEL, affording(10))
    chain.free[CHANNEL] = 5_000  # topped up since the view was read
    assert (await views.check(CHANNEL, affording(4_000))).free == 5_000
    assert chain.reads == 2
    assert (await views.check(CHANNEL, affording(4_500))).free == 5_000  # the fresh read is the view now
    assert chain.reads == 2


async def test_a_refusal_on_a_fresh_read_is_given_at_once_and_other_errors_are_not_retried(views, chain):
    with pytest.raises(PaymentRequired) as refused:
        await views.check(CHANNEL, affording(2_000))
    assert refused.value.code == "channel_underfunded" and chain.reads == 1
    with pytest.raises(PaymentRequired):
        await views.check(CHANNEL, affording(2_000))  # the view refuses, and so does the chain read again
    assert chain.reads == 2

    async def conflicting(state: ChannelState) -> ChannelState:
        raise Conflict("not about the channel's funds", "quote_used")

    with pytest.raises(Conflict):
        await views.check(CHANNEL, conflicting)
    assert chain.reads == 2


async def test_views_are_bounded_dropping_the_least_recently_used(views, chain, monkeypatch):
    monkeypatch.setattr(channel_views, "MAX_VIEWS", 3)
    channels = [Pubkey.new_unique() for _ in range(4)]
    chain.free.update({c: 1_000 for c in channels})
    for channel in channels[:3]:
        await views.check(channel, affording(1))
    await views.check(channels[0], affording(1))  # used again: the second is now the least recent
    await views.check(channels[3], affording(1))
    assert chain.reads == 4
    await views.check(channels[0], affording(1))
    assert chain.reads == 4
    await views.check(channels[1], affording(1))
    assert chain.reads == 5


class Watcher:
    def __init__(self) -> None:
        self.watched: set[Pubkey] = set()

    def watch(self, channel: Pubkey) -> None:
        self.watched.add(channel)

    def unwatch(self, channel: Pubkey) -> None:
        self.watched.discard(channel)


async def test_what_a_subscription_hears_replaces_a_view_unless_older_and_never_makes_it_younger(views, chain, clock):
    views.watcher = watcher = Watcher()
    views.seen(CHANNEL, await chain.read(CHANNEL))  # no view yet: nothing to keep current
    assert views.peek(CHANNEL) is None and watcher.watched == set()
    await views.check(CHANNEL, affording(1))
    assert watcher.watched == {CHANNEL} and chain.reads == 2
    chain.free[CHANNEL], chain.slot = 7_000, 12
    views.seen(CHANNEL, await chain.read(CHANNEL))
    chain.free[CHANNEL], chain.slot = 3, 11
    views.seen(CHANNEL, await chain.read(CHANNEL))  # came late: older than the view
    assert (views.peek(CHANNEL).free, views.peek(CHANNEL).slot) == (7_000, 12)
    assert (await views.check(CHANNEL, affording(6_000))).free == 7_000 and chain.reads == 4
    clock.now += VIEW_SECONDS + 0.01  # read at the start: read again, whatever was heard since
    await views.check(CHANNEL, affording(1))
    assert chain.reads == 5
    views.seen(CHANNEL, None)  # closed
    assert views.peek(CHANNEL) is None and watcher.watched == set()


async def test_a_channel_dropped_for_room_is_no_longer_watched(views, chain, monkeypatch):
    monkeypatch.setattr(channel_views, "MAX_VIEWS", 1)
    views.watcher = watcher = Watcher()
    other = Pubkey.new_unique()
    chain.free[other] = 1_000
    await views.check(CHANNEL, affording(1))
    await views.check(other, affording(1))
    assert watcher.watched == {other}
