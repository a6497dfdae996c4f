"""Reading a request's JSON body, for every route: a body that is not JSON is a 400, never a 500."""

from __future__ import annotations

from aiohttp import web

from marketplace.aggregator.errors import BadRequest


async def read_json(request: web.Request) -> object:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past the parser's depth too
        raise BadRequest(f"the body is not JSON: {exc}") from exc
