"""Signals wake every waiter, and a fire between a waiter's read and its wait is not lost."""

from __future__ import annotations

import asyncio

from marketplace.aggregator.signals import Signal, fired


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
