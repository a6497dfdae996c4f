"""Per-caller quote limits: a burst, then the sustained rate; callers apart."""

from __future__ import annotations

import pytest

from marketplace.aggregator.rate_limit import RateLimit, RateLimited


def test_a_caller_gets_its_burst_then_the_rate_and_others_are_unaffected():
    now = [0.0]
    limit = RateLimit(rate=2.0, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limit.take("a")
    with pytest.raises(RateLimited) as refused:
        limit.take("a")
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.retry_after == pytest.approx(0.5)  # when a token is back: sent as Retry-After
    limit.take("b")  # another caller has its own bucket
    now[0] += 0.5  # one token back at 2 per second
    limit.take("a")
    with pytest.raises(RateLimited):
        limit.take("a")
