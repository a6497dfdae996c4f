"""In-process wake-ups for long polls and the conductor.

A waiter takes `mark()` before it reads the database and waits on that mark
afterwards, so a `fire()` that lands between its read and its wait is never
lost; one fire wakes every waiter. Other aggregator processes on the same
database do not fire here, so every waiter also wakes on a timeout.
"""

from __future__ import annotations

import asyncio


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
    """Waits up to `timeout` seconds for `mark`; whether it fired."""
    try:
        await asyncio.wait_for(mark.wait(), max(timeout, 0.0))
    except TimeoutError:
        return False
    return True
