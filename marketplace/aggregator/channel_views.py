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

Between reads, a subscription to each viewed channel (channel_watch.py) replaces its view as the chain changes it, so
an owner's `request_withdraw` or top-up counts at once; safety does not depend on it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from solders.pubkey import Pubkey

from marketplace.aggregator.errors import Forbidden, PaymentRequired
from marketplace.aggregator.payments import ChannelState

VIEW_SECONDS = 5.0  # how long a channel's account, once read, pays for requests without being read again
MAX_VIEWS = 100_000  # channels kept; the least recently used is read again when it comes back
T = TypeVar("T")


class Watcher(Protocol):
    def watch(self, channel: Pubkey) -> None: ...
    def unwatch(self, channel: Pubkey) -> None: ...


class ChannelViews:
    def __init__(self, read: Callable[[Pubkey], Awaitable[ChannelState]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._views: OrderedDict[Pubkey, tuple[float, ChannelState]] = OrderedDict()  # (when read, the state)
        self.watcher: Watcher | None = None  # told which channels have views, to keep them current

    async def fresh(self, channel: Pubkey) -> ChannelState:
        """The channel read from the chain now; the view from now on."""
        state = await self._read(channel)
        self._keep(channel, state)
        return state

    def peek(self, channel: Pubkey) -> ChannelState | None:
        """The channel's view as held now, however old (None: none)."""
        held = self._views.get(channel)
        return held[1] if held else None

    def seen(self, channel: Pubkey, state: ChannelState | None) -> None:
        """The chain's latest word on a viewed channel (None: it is gone), unless the view is already as recent. The
        view keeps the time it was read: a notification that came late must not make it look younger."""
        held = self._views.get(channel)
        if held is None or (state is not None and state.slot < held[1].slot):
            return
        if state is None:
            self._drop(channel)
        else:
            self._views[channel] = (held[0], state)

    def _keep(self, channel: Pubkey, state: ChannelState) -> None:
        new = channel not in self._views
        self._views[channel] = (self._clock(), state)
        self._views.move_to_end(channel)
        if new and self.watcher is not None:
            self.watcher.watch(channel)
        while len(self._views) > MAX_VIEWS:
            self._drop(next(iter(self._views)))

    def _drop(self, channel: Pubkey) -> None:
        del self._views[channel]
        if self.watcher is not None:
            self.watcher.unwatch(channel)

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
