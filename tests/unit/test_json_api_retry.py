"""JsonApi sends a request again when the answer says "later" (429 or 503 with Retry-After), within a bound; any
other error, or "later" without a delay or with one past what is left of the bound, is the caller's at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from marketplace.errors import ApiError
from marketplace.http import RETRIES, RETRY_BUDGET, JsonApi


@pytest.fixture
async def answers() -> AsyncIterator[tuple[list, list, str]]:
    """A loopback server answering each POST with the next of `script` (status, headers); `seen` counts them."""
    script: list[tuple[int, dict[str, str]]] = []
    seen: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await request.json())
        status, headers = script.pop(0) if script else (200, {})
        body = {"ok": True} if status == 200 else {"error": {"code": f"code_{status}", "message": "later"}}
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield script, seen, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


async def test_a_request_answered_later_is_sent_again_after_the_delay(answers):
    script, seen, url = answers
    script += [(429, {"Retry-After": "0"}), (503, {"Retry-After": "0"})]
    async with JsonApi(url) as api:
        assert await api.post("/", {"n": 1}) == {"ok": True}
    assert seen == [{"n": 1}] * 3


async def test_later_without_a_delay_or_past_the_retries_is_an_error(answers):
    script, seen, url = answers
    async with JsonApi(url) as api:
        script.append((429, {}))
        with pytest.raises(ApiError) as refused:
            await api.post("/", {})
        assert (refused.value.status, refused.value.code) == (429, "code_429") and len(seen) == 1

        script += [(503, {"Retry-After": "0"})] * (RETRIES + 1)
        with pytest.raises(ApiError) as busy:
            await api.post("/", {})
        assert busy.value.status == 503 and len(seen) == 1 + RETRIES + 1

        script.append((409, {"Retry-After": "0"}))  # only "later" is retried
        with pytest.raises(ApiError):
            await api.post("/", {})
        assert len(seen) == RETRIES + 3

        script.append((429, {"Retry-After": str(RETRY_BUDGET + 1)}))  # longer than a request waits in all
        with pytest.raises(ApiError):
            await api.post("/", {})
        assert len(seen) == RETRIES + 4
