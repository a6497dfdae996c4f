"""The aggregator's errors: each is an HTTP status and a stable code clients can branch on.

    AggregatorError
    ├── BadRequest        400 bad_request            malformed body or parameters
    ├── PaymentRequired   402 ...                    a voucher that does not pay for the request
    ├── Forbidden         403 ...                    signer unknown, or not allowed this
    ├── NotFound          404 ...                    no such quote, job or task
    ├── Conflict          409 ...                    state does not allow it (used quote, expired task)
    ├── Unprocessable     422 ...                    well-formed but inconsistent with the chain
    └── Unavailable       503 no_capacity            no provider can take the work now
"""

from __future__ import annotations

from marketplace.errors import MarketplaceError


class AggregatorError(MarketplaceError):
    status = 500
    code = "internal_error"
    retry_after: float | None = None  # seconds after which the same request may succeed (sent as Retry-After)

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequest(AggregatorError):
    status, code = 400, "bad_request"


class PaymentRequired(AggregatorError):
    status, code = 402, "payment_required"


class Forbidden(AggregatorError):
    status, code = 403, "forbidden"


class NotFound(AggregatorError):
    status, code = 404, "not_found"


class Conflict(AggregatorError):
    status, code = 409, "conflict"


class Unprocessable(AggregatorError):
    status, code = 422, "unprocessable"


class Unavailable(AggregatorError):
    status, code = 503, "no_capacity"
