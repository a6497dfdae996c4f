"""In-process wake-ups for long polls and the conductor.

A waiter takes `mark()` before it reads the database and waits on that mark
afterwards, so a `fire()` that lands between its read and its wait is never
lost; one fire wakes every waiter. Other aggregator processes on the same
database do not fire here, so every waiter also wakes on a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
RECHECK = 1.0  # seconds: what other processes change fires nothing here


class Signal:
    def __init__(self) -> None:
        self._next = asyncio.Event()

    def fire(self) -> None:
        self._next.set()
        self._next = asyncio.Event()

    def mark(self) -> asyncio.Event:
        """The event the next `fire()` sets."""
        return self._next


async def fired(mark: asyncio.Event, timeout: float) -> bool:
    """Waits up to `timeout` seconds for `mark`; whether it fired.

    `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` swallows a cancellation that lands as `mark` fires,
    and a loop cancelled at shutdown would then run on forever."""
    try:
        async with asyncio.timeout(max(timeout, 0.0)):
            await mark.wait()
    except TimeoutError:
        return False
    return True


async def long_poll(signal: Signal, look: Callable[[], Awaitable[T]], found: Callable[[T], bool], seconds: float) -> T:
    """`look()` until `found` says yes or `seconds` pass, looking again on each fire of `signal` (and every RECHECK)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        mark = signal.mark()
        result = await look()
        if found(result) or loop.time() >= deadline:
            return result
        await fired(mark, min(RECHECK, deadline - loop.time()))
