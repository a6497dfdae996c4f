"""JSON over HTTP to Tessera services, with their errors as ApiError (status + stable code)."""

from __future__ import annotations

from typing import Any

import aiohttp

from marketplace.errors import ApiError
from marketplace.messages import SignedMessage


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
        async with self.session.request(method, self.base_url + path, json=body, headers=headers) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            if response.status >= 400:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                raise ApiError(response.status, error.get("code", "http_error"), error.get("message", response.reason or ""))
            return answer

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any) -> Any:
        if isinstance(body, SignedMessage):
            body = body.to_json()
        return await self.request("POST", path, body)
