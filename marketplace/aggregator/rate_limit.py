"""Per-caller token buckets: quotes write rows and read the chain, so nobody may ask for them without bound."""

from __future__ import annotations

import time
from collections.abc import Callable

from marketplace.aggregator.errors import AggregatorError

MAX_CALLERS = 10_000  # buckets kept; the fullest (idle longest) are forgotten first


class RateLimited(AggregatorError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimit:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when counted)

    def take(self, caller: str) -> None:
        """Spends one token of `caller`'s bucket; RateLimited when it is empty."""
        now = self.clock()
        tokens, then = self.buckets.pop(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if len(self.buckets) >= MAX_CALLERS:
            self.buckets.pop(next(iter(self.buckets)))
        if tokens < 1:
            self.buckets[caller] = (tokens, now)
            raise RateLimited(f"too many quotes from {caller}: at most {self.rate:g} per second (bursts of {self.burst})",
                              retry_after=(1 - tokens) / self.rate)
        self.buckets[caller] = (tokens - 1, now)
