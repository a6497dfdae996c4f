"""JSON over HTTP to Tessera services, with their errors as ApiError (status + stable code).

An answer saying "later" (429 rate limited, 503 busy) with a Retry-After header changed nothing, so the request is
sent again after that delay, within a bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from marketplace.errors import ApiError
from marketplace.messages import SignedMessage


# A request answered "later" is sent again up to this many times, waiting at most this long in all: enough that one
# of many concurrent requests, beaten to each freed place by newer ones, still gets through.
RETRIES = 30
RETRY_BUDGET = 60.0  # seconds


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """The answer's Retry-After in seconds (the delay form; an HTTP date is not waited for)."""
    try:
        delay = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return delay if delay >= 0 else None


class JsonApi:
    """One aiohttp session to one service; the caller owns its lifetime (async with, or close())."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> JsonApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        waited = 0.0
        for attempt in range(RETRIES + 1):
            async with self.session.request(method, self.base_url + path, json=body, headers=headers) as response:
                status, reason, delay = response.status, response.reason, _retry_after(response)
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
            if status in (429, 503) and delay is not None and attempt < RETRIES and waited + delay <= RETRY_BUDGET:
                await asyncio.sleep(delay)
                waited += delay
                continue
            if status >= 400:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                raise ApiError(status, error.get("code", "http_error"), error.get("message", reason or ""))
            return answer

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any) -> Any:
        if isinstance(body, SignedMessage):
            body = body.to_json()
        return await self.request("POST", path, body)
