"""This aggregator's view of payment channels: each channel's account as last read from the chain, used for
VIEW_SECONDS without reading it again, so a voucher paying for a request is checked in microseconds, not a round trip.

Why paying on a view a few seconds old leaves no one short:
- Lamports leave a channel only through this market's claims, or through its owner's `withdraw`, which waits the
  channel's delay after `request_withdraw`. Claims are counted from the database against the view's slot: every
  voucher not claimed yet, and every claim that landed after the slot the view was read at (vouchers keep the
  slot their claim landed in). A channel paying in epochs must take longer to withdraw than an epoch takes to be
  claimed plus VIEW_SECONDS, so a request served on a view that missed `request_withdraw` is claimed before its owner
  can leave.
- Everything else that changes a channel (a top-up, a closed job's refund, a slash's credit) adds to it, so a stale
  view refuses what a fresh one would accept: a refusal reads the chain again before it is given.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from solders.pubkey import Pubkey

from marketplace.aggregator.errors import Forbidden, PaymentRequired
from marketplace.aggregator.payments import ChannelState

VIEW_SECONDS = 5.0  # how long a channel's account, once read, pays for requests without being read again
MAX_VIEWS = 100_000  # channels kept; the least recently used is read again when it comes back
T = TypeVar("T")


class ChannelViews:
    def __init__(self, read: Callable[[Pubkey], Awaitable[ChannelState]], clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._views: OrderedDict[Pubkey, tuple[float, ChannelState]] = OrderedDict()  # (when read, the state)

    async def fresh(self, channel: Pubkey) -> ChannelState:
        """The channel read from the chain now; the view from now on."""
        state = await self._read(channel)
        self._views[channel] = (self._clock(), state)
        self._views.move_to_end(channel)
        while len(self._views) > MAX_VIEWS:
            self._views.popitem(last=False)
        return state

    async def check(self, channel: Pubkey, checking: Callable[[ChannelState], Awaitable[T]]) -> T:
        """Runs `checking` on the channel's view (read first if it has none, or none younger than VIEW_SECONDS). A
        refusal on a view read earlier is checked again on a fresh read: the channel may have been topped up or
        refunded since."""
        held = self._views.get(channel)
        if held is None or self._clock() - held[0] > VIEW_SECONDS:
            return await checking(await self.fresh(channel))
        self._views.move_to_end(channel)
        try:
            return await checking(held[1])
        except (PaymentRequired, Forbidden):
            return await checking(await self.fresh(channel))
