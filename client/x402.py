"""Answering HTTP 402 from a payment channel: an `httpx.Auth` that pays a Tessera aggregator's OpenAI-compatible
endpoints by voucher, so off-the-shelf clients (the `openai` package) work unchanged:

    openai.OpenAI(base_url=aggregator + "/v1", api_key="unused", http_client=tessera.http_client())

A request answered 402 is sent again with `PAYMENT-SIGNATURE`: a voucher for the amount asked, on top of all the
channel has authorized. The answer's `PAYMENT-RESPONSE` and `X-Tessera-Job` headers say what paid and which job
ran it.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from client.channel import PaymentChannel
from client.errors import BudgetExceeded
from marketplace.x402 import REQUIRED_HEADER, SCHEME, SIGNATURE_HEADER, VERSION, decode, encode


class VoucherAuth(httpx.Auth):
    """Pays 402s from `channel`; `max_lamports` caps what one request may ask (BudgetExceeded above it)."""

    def __init__(self, channel: PaymentChannel, max_lamports: int | None = None) -> None:
        self.channel, self.max_lamports = channel, max_lamports

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code != 402 or REQUIRED_HEADER not in response.headers:
            return
        required = decode(response.headers[REQUIRED_HEADER])
        accepted = next((a for a in required.get("accepts", []) if a.get("scheme") == SCHEME), None)
        if accepted is None:
            return  # asked for a payment this client cannot make: the 402 stands
        amount = int(accepted["amount"])
        if self.max_lamports is not None and amount > self.max_lamports:
            raise BudgetExceeded(amount, self.max_lamports)
        voucher = self.channel.voucher(amount)
        # Counted as soon as it is signed: concurrent requests each authorize on top of the other.
        self.channel.authorize(voucher)
        request.headers[SIGNATURE_HEADER] = encode({"x402Version": VERSION, "resource": required.get("resource"),
                                                     "accepted": accepted,
                                                     "payload": {"voucher": voucher.to_json()}})
        yield request
