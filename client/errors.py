"""Errors of the client SDK. Each has a stable `code`; catch TesseraError for all of them.

    TesseraError
    ├── InvalidRequest      bad arguments, refused before anything is signed     (invalid_request)
    ├── BudgetExceeded      the quote's escrow is above the caller's cap          (budget_exceeded)
    ├── AggregatorRefused   the aggregator answered with an error, or not at all  (its code, or aggregator_unreachable)
    ├── ChainRefused        the program or the RPC node refused a transaction      (chain_refused)
    ├── JobTimeout          the job did not finish in time (it can be refunded)   (job_timeout)
    └── JobFailed           the job ended without every output; .result has the rest (job_failed)
"""

from __future__ import annotations


class TesseraError(Exception):
    code = "tessera_error"


class InvalidRequest(TesseraError):
    code = "invalid_request"


class BudgetExceeded(TesseraError):
    code = "budget_exceeded"

    def __init__(self, escrow: int, cap: int) -> None:
        super().__init__(f"the job needs {escrow} lamports in escrow, above the cap of {cap}")
        self.escrow, self.cap = escrow, cap


class AggregatorRefused(TesseraError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the aggregator refused ({status} {code}): {message}")
        self.status, self.code = status, code


class ChainRefused(TesseraError):
    code = "chain_refused"


class JobTimeout(TesseraError):
    code = "job_timeout"

    def __init__(self, job: str, seconds: float) -> None:
        super().__init__(f"job {job} did not finish within {seconds:g} s; after its deadline, `refund` returns the unspent escrow")
        self.job = job


class JobFailed(TesseraError):
    code = "job_failed"

    def __init__(self, job: str, status: str, result=None) -> None:
        missing = [s.index for s in result.shards if s.output is None] if result is not None else []
        detail = f" (shards {missing} have none)" if missing else ""
        super().__init__(f"job {job} ended as {status} without every output{detail}")
        self.job, self.status = job, status
        self.result = result  # the outputs it has and the receipt, when the job got that far
