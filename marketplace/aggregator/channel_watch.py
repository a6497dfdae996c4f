"""Keeps the aggregator's channel views (channel_views.py) current between reads: one WebSocket to the RPC node's
PubSub, an account subscription for each channel with a view, each notification handed to the views. An owner's
`request_withdraw` or top-up then counts at once rather than once the view is read again.

Nothing depends on it for safety: views are read again once VIEW_SECONDS old whatever came over the socket. A
connection that fails is opened again after a backoff, every viewed channel subscribed anew.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from solana.rpc.commitment import Confirmed
from solana.rpc.websocket_api import SolanaWsClientProtocol, SubscriptionError, connect
from solders.account import Account
from solders.pubkey import Pubkey
from solders.rpc.requests import AccountSubscribe
from solders.rpc.responses import AccountNotification, SubscriptionResult
from websockets.exceptions import WebSocketException

from marketplace.aggregator.channel_views import ChannelViews
from marketplace.aggregator.payments import ChannelState

log = logging.getLogger("tessera.aggregator")
MIN_BACKOFF, MAX_BACKOFF = 0.5, 30.0  # seconds between attempts to connect


class ChannelWatch:
    """Subscriptions for the channels `views` holds (it makes itself their watcher, told of each channel viewed and
    dropped); `decode` turns an account the node sent into a channel's state (None: not a channel any more)."""

    def __init__(self, url: str, views: ChannelViews,
                 decode: Callable[[Pubkey, Account, int], ChannelState | None]) -> None:
        self.url = url
        self.views = views
        self._decode = decode
        self._watched: set[Pubkey] = set()
        self._changes: asyncio.Queue[tuple[bool, Pubkey]] = asyncio.Queue()  # (subscribe?, channel), in order
        self._subscriptions: dict[Pubkey, int] = {}  # on the current connection
        views.watcher = self

    def watch(self, channel: Pubkey) -> None:
        self._watched.add(channel)
        self._changes.put_nowait((True, channel))

    def unwatch(self, channel: Pubkey) -> None:
        self._watched.discard(channel)
        self._changes.put_nowait((False, channel))

    async def run(self) -> None:
        """Until cancelled."""
        backoff = MIN_BACKOFF
        while True:
            try:
                async with connect(self.url, max_size=None) as ws:
                    backoff = MIN_BACKOFF
                    await self._serve(ws)
            except (OSError, WebSocketException, SubscriptionError, asyncio.TimeoutError) as exc:
                log.warning("channel subscriptions at %s: %s (views are read again every few seconds meanwhile)",
                            self.url, exc)
            except Exception:  # a message it could not take: connect again; the views are unharmed
                log.exception("channel subscriptions at %s failed", self.url)
            self._subscriptions.clear()
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF)

    async def _serve(self, ws: SolanaWsClientProtocol) -> None:
        self._changes = asyncio.Queue()
        for channel in self._watched:  # a new connection: every viewed channel again
            self._changes.put_nowait((True, channel))
        sending = asyncio.create_task(self._send(ws))
        try:
            while True:
                for message in await ws.recv():
                    self._hear(ws, message)
                if sending.done():  # its failure is the connection's
                    sending.result()
        finally:
            sending.cancel()

    async def _send(self, ws: SolanaWsClientProtocol) -> None:
        while True:
            subscribe, channel = await self._changes.get()
            if subscribe and channel in self._watched and channel not in self._subscriptions:
                self._subscriptions[channel] = -1  # asked; its id comes with the answer
                await ws.account_subscribe(channel, Confirmed, "base64")
            elif not subscribe and channel not in self._watched and self._subscriptions.get(channel, -1) >= 0:
                await ws.account_unsubscribe(self._subscriptions.pop(channel))

    def _hear(self, ws: SolanaWsClientProtocol, message: object) -> None:
        if isinstance(message, SubscriptionResult):
            if isinstance(request := ws.subscriptions.get(message.result), AccountSubscribe):
                self._subscriptions[request.account] = message.result
        elif isinstance(message, AccountNotification):
            if isinstance(request := ws.subscriptions.get(message.subscription), AccountSubscribe):
                result = message.result
                self.views.seen(request.account, self._decode(request.account, result.value, result.context.slot))
