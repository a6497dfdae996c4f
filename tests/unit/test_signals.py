"""Signals wake every waiter, a fire between a waiter's read and its wait is not lost, and long polls use them."""

from __future__ import annotations

import asyncio

import pytest

from marketplace.aggregator.signals import Signal, fired, long_poll


async def test_one_fire_wakes_every_waiter():
    signal = Signal()
    waiters = [asyncio.create_task(fired(signal.mark(), 5)) for _ in range(3)]
    await asyncio.sleep(0)
    signal.fire()
    assert await asyncio.gather(*waiters) == [True, True, True]


async def test_a_fire_after_the_mark_is_kept_for_the_waiter():
    signal = Signal()
    mark = signal.mark()  # taken before reading state
    signal.fire()  # lands before the waiter waits
    assert await fired(mark, 0.01)
    assert not await fired(signal.mark(), 0.01)  # a fresh mark waits for the next fire


async def test_without_a_fire_the_wait_times_out():
    assert not await fired(Signal().mark(), 0.05)


async def test_a_long_poll_looks_again_on_each_fire_until_it_finds_something():
    signal, found = Signal(), []

    async def look() -> list[int]:
        return list(found)

    async def deliver() -> None:
        await asyncio.sleep(0.05)
        found.append(1)
        signal.fire()

    asyncio.get_running_loop().create_task(deliver())
    started = asyncio.get_running_loop().time()
    assert await long_poll(signal, look, bool, 5) == [1]
    assert asyncio.get_running_loop().time() - started < 1  # woken by the fire, not by the recheck


async def test_a_long_poll_gives_the_last_look_when_time_runs_out():
    async def look() -> list[int]:
        return []

    assert await long_poll(Signal(), look, bool, 0.05) == []


async def test_a_cancellation_that_lands_as_the_mark_fires_still_cancels():
    """A loop waiting on `fired` is cancelled at shutdown; a fire in the same instant must not swallow that."""
    for _ in range(20):
        signal = Signal()
        waiter = asyncio.create_task(fired(signal.mark(), 5))
        await asyncio.sleep(0)
        signal.fire()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
