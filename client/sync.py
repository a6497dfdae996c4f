"""TesseraSyncClient: the async client's API for code without an event loop, over the same implementation.

    with TesseraSyncClient("http://127.0.0.1:8080", "http://127.0.0.1:8899", keypair) as tessera:
        print(tessera.generate("Hello", model=digest, max_new_tokens=8).texts)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from solders.keypair import Keypair

from client.channel import PaymentChannel
from client.receipts import ChatResult, JobResult, Receipt, ShardResult
from client.sdk import SubmittedJob, TesseraClient


class TesseraSyncClient:
    def __init__(self, aggregator_url: str, rpc_url: str, keypair: Keypair, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = self._loop.run_until_complete(self._make(aggregator_url, rpc_url, keypair, options))

    @staticmethod
    async def _make(aggregator_url, rpc_url, keypair, options) -> TesseraClient:
        return TesseraClient(aggregator_url, rpc_url, keypair, **options)  # its sessions belong to this loop

    def _run(self, coroutine):
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        self._run(self._client.close())
        self._loop.close()

    def __enter__(self) -> TesseraSyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def generate(self, prompts, **options: Any) -> JobResult:
        return self._run(self._client.generate(prompts, **options))

    def chat(self, messages, **options: Any) -> ChatResult:
        return self._run(self._client.chat(messages, **options))

    def embed(self, texts, **options: Any) -> JobResult:
        return self._run(self._client.embed(texts, **options))

    def submit(self, kind: str, inputs: list[dict], model, params: dict | None = None, max_lamports: int | None = None) -> SubmittedJob:
        return self._run(self._client.submit(kind, inputs, model, params, max_lamports))

    def wait(self, job: SubmittedJob, timeout: float | None = None) -> JobResult:
        return self._run(self._client.wait(job, timeout))

    def stream(self, job, timeout: float | None = None) -> Iterator[ShardResult]:
        results = self._client.stream(job, timeout)
        while True:
            try:
                yield self._run(results.__anext__())
            except StopAsyncIteration:
                return

    def status(self, job: str) -> dict:
        return self._run(self._client.status(job))

    def cancel(self, job: SubmittedJob) -> Receipt:
        return self._run(self._client.cancel(job))

    def refund(self, job: SubmittedJob) -> Receipt:
        return self._run(self._client.refund(job))

    def open_channel(self, deposit: int, withdraw_delay: int = 24 * 3600, authorizer: Keypair | None = None) -> PaymentChannel:
        return self._run(self._client.open_channel(deposit, withdraw_delay, authorizer))

    def use_channel(self, authorizer: Keypair) -> PaymentChannel:
        return self._run(self._client.use_channel(authorizer))

    def channel_status(self) -> dict:
        return self._run(self._client.channel_status())

    def request_withdraw(self) -> str:
        return self._run(self._client.request_withdraw())

    def withdraw(self) -> int:
        return self._run(self._client.withdraw())
