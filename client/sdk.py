"""The Tessera client SDK: pay per request for inference, escrow straight on chain.

    async with TesseraClient("http://127.0.0.1:8080", "http://127.0.0.1:8899", keypair) as tessera:
        result = await tessera.generate(["Hello,", "Solana is"], model=digest, max_new_tokens=16)
        print(result.texts, result.receipt.paid)

A request is a job: the client asks the aggregator for a quote, signs
`create_job` itself (the escrow goes from its wallet to the Job account,
never through the aggregator), uploads the shard inputs, and follows the job
until it is settled and closed. With a payment channel (`open_channel`) it
signs no transaction per request: a voucher pays, the aggregator claims it,
and the claim moves the escrow from the channel into the job, whose unspent
part goes back to the channel. Outputs arrive as shards are verified
(`stream`); the receipt says what moved on chain and how each shard was
verified. `TesseraSyncClient` (client.sync) is the same API without async.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from client.errors import (
    AggregatorRefused,
    BudgetExceeded,
    ChainRefused,
    InvalidRequest,
    JobFailed,
    JobTimeout,
)
from client.channel import PaymentChannel
from client.receipts import ChatResult, JobResult, Receipt, ShardResult
from client.x402 import VoucherAuth
from marketplace.chain import (AssignmentAccount, AssignmentStatus, ChainError, ChannelAccount, EpochAccount, JobAccount,
                              MarketAccount, channel_address, job_address)
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import MAX_SHARDS
from marketplace.chain.client import TesseraChain
from marketplace.chain.program import account_size
from marketplace.chain.events import decode_events
from marketplace.digests import input_digest
from marketplace.errors import ApiError
from marketplace.http import JsonApi
from marketplace.merkle import merkle_root
from marketplace.messages import read_authorization, sign_message
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.routing import stage_inputs
from marketplace.vocabulary import DECIDED, FINAL, JobStatus, KINDS, Kind, ShardStatus, Verification

FINISHED = (JobStatus.CLOSED, JobStatus.CANCELLED)
MIN_BACKOFF, MAX_BACKOFF = 0.25, 5.0  # seconds between attempts to reach an aggregator that is down
REFUND_PATIENCE = 2.0  # seconds a refund waits for an aggregator's report: the chain alone suffices


@dataclass(frozen=True)
class SubmittedJob:
    job: str
    kind: str
    shard_count: int
    escrow: int
    job_rent: int
    create_signature: str | None  # create_job's, or claim_channel's for a job a channel paid for (None: in an epoch)
    fee: int
    quote: dict
    channel: str | None = None  # the payment channel that paid, if one did
    voucher: int | None = None  # the voucher total that paid for it
    stages: int = 1  # a pipelined model's spans: each request is that many shards, one per stage
    epoch: str | None = None  # the epoch job that carries it, where it was served first and is paid with others later
    revision: str | None = None  # its report's revision when it was taken in, where the aggregator said


def _model_hex(model: str | bytes) -> str:
    text = model.hex() if isinstance(model, bytes) else model
    if not isinstance(text, str) or len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InvalidRequest("model must be a model digest: 32 bytes or 64 lowercase hex characters")
    return text


class TesseraClient:
    """Async client: one aggregator, one RPC node, one paying keypair.

    `max_lamports` caps the escrow of any one job (a quote above it raises
    BudgetExceeded before anything is signed); `timeout` bounds how long a
    call waits for its job; `long_poll` how long one status request may wait
    at the aggregator for the job to move on."""

    def __init__(self, aggregator_url: str, rpc_url: str, keypair: Keypair, *, max_lamports: int | None = None,
                 timeout: float = 300.0, long_poll: float = 10.0) -> None:
        self.keypair = keypair
        self.max_lamports, self.timeout, self.long_poll = max_lamports, timeout, long_poll
        self.api = JsonApi(aggregator_url)
        self.chain = TesseraChain(rpc_url)
        self.channel: PaymentChannel | None = None  # when set, requests are paid by voucher from it
        self._readers: dict[str, Keypair] = {}  # job -> who reads its outputs, when not this keypair
        self._pipelines: dict[str, list[Span] | None] = {}  # model -> its spans when it is served as a pipeline

    async def close(self) -> None:
        await self.api.close()
        await self.chain.close()

    async def __aenter__(self) -> TesseraClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, body: Any = None, *, patience: float | None = None,
                    reading: str | None = None) -> Any:
        """One request; an aggregator that is down, restarting or busy is asked again, backing off, for up to
        `patience` seconds (the client's timeout by default). `body` may be a function giving a fresh
        body per attempt (a signed message must not be replayed). `reading`: the job whose outputs this
        client reads, with a signed Authorization header."""
        deadline = time.monotonic() + (self.timeout if patience is None else patience)
        backoff = MIN_BACKOFF
        while True:
            reader = self._readers.get(reading, self.keypair) if reading else None
            headers = {"Authorization": read_authorization(reader, reading)} if reading else None
            try:
                return await self.api.request(method, path, body() if callable(body) else body, headers)
            except ApiError as exc:
                if exc.code != "busy" or time.monotonic() + backoff > deadline:  # busy: nothing changed, ask again
                    raise AggregatorRefused(exc.status, exc.code, exc.message) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                if time.monotonic() + backoff > deadline:
                    raise AggregatorRefused(0, "aggregator_unreachable", f"{self.api.base_url}: {exc}") from exc
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    # high level

    async def generate(self, prompts: str | Sequence[str], *, model: str | bytes, max_new_tokens: int = 32,
                       temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                       max_lamports: int | None = None, timeout: float | None = None) -> JobResult:
        """Generates text for each prompt (one shard each); greedy unless `temperature` > 0, then seeded.

            result = await tessera.generate("Once upon a time", model=digest, max_new_tokens=8)
            result.texts[0], result.receipt.paid
        """
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if temperature > 0 and seed is None:
            seed = secrets.randbits(31)  # in the job, so replicas reproduce the sampling
        params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed}
        return await self.run(Kind.GENERATE, [{"prompt": p} for p in prompts], model, params, max_lamports, timeout)

    async def chat(self, messages: str | Sequence[dict], *, model: str | bytes, max_new_tokens: int = 128,
                   temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                   max_lamports: int | None = None, timeout: float | None = None) -> ChatResult:
        """One assistant turn for a conversation, rendered by the model's own chat template; it ends at the
        model's end-of-turn token or after `max_new_tokens`.

            answer = await tessera.chat("What is the capital of France?", model=smollm2_digest)
            answer.message["content"], answer.usage, answer.receipt.paid
        """
        messages = [{"role": "user", "content": messages}] if isinstance(messages, str) else [dict(m) for m in messages]
        if temperature > 0 and seed is None:
            seed = secrets.randbits(31)
        params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed}
        result = await self.run(Kind.CHAT, [{"messages": messages}], model, params, max_lamports, timeout)
        return ChatResult.of(result)

    async def embed(self, texts: str | Sequence[str], *, model: str | bytes, max_lamports: int | None = None,
                    timeout: float | None = None) -> JobResult:
        """One embedding vector per text.

            result = await tessera.embed(["a cat", "a kitten"], model=minilm_digest)
            result.vectors
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        return await self.run(Kind.EMBED, [{"text": t} for t in texts], model, None, max_lamports, timeout)

    async def run(self, kind: str, inputs: list[dict], model: str | bytes, params: dict | None = None,
                  max_lamports: int | None = None, timeout: float | None = None) -> JobResult:
        """Submits one job and waits for it to close; outputs in input order, with the receipt."""
        submitted = await self.submit(kind, inputs, model, params, max_lamports)
        return await self.wait(submitted, timeout)

    # steps

    async def pipeline(self, model: str | bytes) -> list[Span] | None:
        """The spans of a model served as a pipeline (split over stage providers), or None for a whole model."""
        digest = _model_hex(model)
        if digest not in self._pipelines:
            try:
                described = await self._call("GET", f"/v1/pipelines/{digest}")
            except AggregatorRefused as exc:
                if exc.code not in ("pipeline_not_found", "route_not_found"):  # route: an aggregator without pipelines
                    raise
                described = None
            self._pipelines[digest] = [Span.parse(s) for s in described["spans"]] if described else None
        return self._pipelines[digest]

    async def quote(self, kind: str, shard_count: int, model: str | bytes) -> dict:
        return await self._call("POST", "/v1/quotes", {"model_digest": _model_hex(model), "shard_count": shard_count,
                                                        "kind": kind})

    async def submit(self, kind: str, inputs: list[dict], model: str | bytes, params: dict | None = None,
                     max_lamports: int | None = None) -> SubmittedJob:
        """Quote, then pay: by voucher from the open channel, or by signing create_job (escrow on chain); upload the
        inputs. Returns once the aggregator has the job."""
        if kind not in KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}")
        spans = await self.pipeline(model) if kind != Kind.EMBED else None
        stages = len(spans) if spans else 1
        if spans:  # a pipelined model: each request is one shard per stage, each stage paid like a shard
            inputs = [staged for item in inputs for staged in stage_inputs(item, spans)]
        if not 1 <= len(inputs) <= MAX_SHARDS:
            raise InvalidRequest(f"a job has 1 to {MAX_SHARDS} inputs; send a larger batch as several jobs")
        cap = max_lamports if max_lamports is not None else self.max_lamports
        root = merkle_root([input_digest(item) for item in inputs])
        quote = await self.quote(kind, len(inputs), model)
        if cap is not None and quote["escrow"] > cap:
            raise BudgetExceeded(quote["escrow"], cap)
        if self.channel is not None:
            return await self._submit_paid(self.channel, quote, kind, inputs, params, stages)
        market = Pubkey.from_string(quote["market"])
        job = job_address(market, quote["job_id"])[0]
        instruction = ix.create_job(
            self.keypair.pubkey(), market, quote["job_id"], model_digest=bytes.fromhex(_model_hex(model)),
            input_root=root, seed_commitment=bytes.fromhex(quote["seed_commitment"]),
            price_per_shard=quote["price_per_shard"], deadline=quote["deadline"], shard_count=len(inputs))
        try:
            sent = await self.chain.send([instruction], [self.keypair])
        except ChainError as exc:
            raise ChainRefused(f"create_job was refused: {exc}") from exc
        created = next((e.data for e in sent.events if e.name == "JobCreated"), None)
        escrow = created.escrow if created is not None else quote["escrow"]
        job_rent = await self.chain.balance(job) - escrow
        body = {"job": str(job), "kind": kind, "params": params, "inputs": inputs}
        try:
            await self._call("POST", "/v1/jobs", lambda: sign_message(self.keypair, "job", body, job=str(job)).to_json())
        except AggregatorRefused as exc:
            if exc.code != "job_exists":  # an attempt whose answer was lost had landed: the job is in
                raise
        return SubmittedJob(str(job), kind, len(inputs), escrow, job_rent, str(sent.signature), sent.fee, quote,
                            stages=stages)

    async def _submit_paid(self, channel: PaymentChannel, quote: dict, kind: str, inputs: list[dict],
                           params: dict | None, stages: int = 1) -> SubmittedJob:
        """Pays by voucher: the aggregator checks it, claims it (the claim opens the job on chain, funded by the
        channel) and takes the inputs, in one answer."""
        job = str(job_address(Pubkey.from_string(quote["market"]), quote["job_id"])[0])
        body = {"job_id": quote["job_id"], "seed_commitment": quote["seed_commitment"], "kind": kind, "params": params,
                "inputs": inputs}

        async def pay(paid: int = 0):
            voucher = channel.voucher(quote["escrow"], paid)
            channel.authorize(voucher)  # counted once signed: concurrent requests authorize on top of each other
            signed = {**body, "voucher": voucher.to_json()}
            return voucher, await self._call("POST", "/v1/jobs", lambda: sign_message(channel.authorizer, "job", signed, job=job).to_json())

        try:
            voucher, answer = await pay()
        except AggregatorRefused as exc:
            if exc.code != "voucher_too_small":
                raise
            # The channel paid (or owes for requests served) more than this process knew: catch up, once.
            status = await self._call("GET", f"/v1/channels/{channel.address}")
            voucher, answer = await pay(status["claimed"] + status.get("owed", 0))
        self._readers[job] = channel.authorizer
        epoch = answer.get("epoch")  # served in an epoch: no job of its own, so no rent
        rent = 0 if epoch else await self.chain.rent_exempt_minimum(account_size("Job"))
        return SubmittedJob(job, kind, len(inputs), answer["escrow"], rent, answer["claim_signature"], 0, quote,
                            str(channel.address), voucher.amount, stages, epoch, answer.get("revision"))

    # payment channels

    def http_client(self, **options) -> httpx.Client:
        """An httpx client that pays the aggregator's 402s by voucher from this client's channel: give it to
        `openai.OpenAI(base_url=<aggregator>/v1, api_key="unused", http_client=...)`."""
        return httpx.Client(auth=VoucherAuth(self._channel(), self.max_lamports), **{"timeout": self.timeout, **options})

    def async_http_client(self, **options) -> httpx.AsyncClient:
        """The same for `openai.AsyncOpenAI`."""
        return httpx.AsyncClient(auth=VoucherAuth(self._channel(), self.max_lamports), **{"timeout": self.timeout, **options})

    def _channel(self) -> PaymentChannel:
        if self.channel is None:
            raise InvalidRequest("no payment channel: open_channel or use_channel first")
        return self.channel

    async def open_channel(self, deposit: int, withdraw_delay: int = 24 * 3600,
                           authorizer: Keypair | None = None) -> PaymentChannel:
        """Opens this wallet's payment channel in the aggregator's market with `deposit` lamports, its vouchers
        signed by `authorizer` (a fresh session key by default); from now on requests are paid by voucher. The
        delay is what `withdraw` waits after `request_withdraw`: the aggregator's time to claim what it served."""
        market, _ = await self.market()
        authorizer = authorizer or Keypair()
        await self._client_instruction(ix.open_channel(self.keypair.pubkey(), market, authorizer.pubkey(), deposit,
                                                       withdraw_delay), "open_channel")
        address = channel_address(market, self.keypair.pubkey())[0]
        account = await self.chain.fetch(ChannelAccount, address)
        self.channel = PaymentChannel(address, authorizer, account.generation, account.claimed)
        return self.channel

    async def use_channel(self, authorizer: Keypair) -> PaymentChannel:
        """Pays from this wallet's existing channel, whose vouchers `authorizer` signs (a restarted agent)."""
        market, _ = await self.market()
        address = channel_address(market, self.keypair.pubkey())[0]
        account = await self.chain.fetch(ChannelAccount, address)
        if account is None:
            raise InvalidRequest(f"this wallet has no payment channel in market {market}: open_channel first")
        if account.authorizer != authorizer.pubkey():
            raise InvalidRequest(f"the channel's vouchers are signed by {account.authorizer}, not {authorizer.pubkey()}")
        self.channel = PaymentChannel(address, authorizer, account.generation, account.claimed)
        return self.channel

    async def channel_status(self) -> dict:
        """The channel as the aggregator reports it: what it holds, has paid, and the requests it paid for."""
        return await self._call("GET", f"/v1/channels/{self._own_channel()}")

    async def request_withdraw(self) -> str:
        """Starts the channel's withdrawal delay; the aggregator may still claim what it served meanwhile."""
        channel = self._own_channel()
        sent = await self._client_instruction(ix.request_withdraw(self.keypair.pubkey(), channel), "request_withdraw")
        return str(sent.signature)

    async def withdraw(self) -> int:
        """After the delay, and once the jobs it paid for have closed: everything the channel holds comes back."""
        channel = self._own_channel()
        sent = await self._client_instruction(ix.withdraw(self.keypair.pubkey(), channel), "withdraw")
        self.channel = None
        return next((e.data.amount for e in sent.events if e.name == "ChannelWithdrawn"), 0)

    def _own_channel(self) -> Pubkey:
        return self._channel().address

    async def status(self, job: str, patience: float | None = None) -> dict:
        """The aggregator's report of a job: status, shards, verification, settlements."""
        return await self._call("GET", f"/v1/jobs/{job}", patience=patience, reading=job)

    async def _moved_on(self, job: str, revision: str | None, deadline: float) -> dict:
        """The job's report once it differs from `revision` (or the wait ran out); at once without one."""
        patience = max(0.0, deadline - time.monotonic())
        if revision is None:
            return await self.status(job, patience)
        wait = min(self.long_poll, patience)
        return await self._call("GET", f"/v1/jobs/{job}?" + urlencode({"revision": revision, "wait": f"{wait:.2f}"}),
                                patience=patience, reading=job)

    async def stream(self, job: str | SubmittedJob, timeout: float | None = None) -> AsyncIterator[ShardResult]:
        """Yields each shard's result as soon as it is verified (or served from the cache), in completion order."""
        address = job.job if isinstance(job, SubmittedJob) else job
        deadline = time.monotonic() + (timeout or self.timeout)
        seen: set[int] = set()
        revision = job.revision if isinstance(job, SubmittedJob) else None
        while True:
            report = await self._moved_on(address, revision, deadline)
            revision = report["revision"]
            for shard in report["shards"]:
                if shard["index"] not in seen and shard["status"] in (ShardStatus.VERIFIED, ShardStatus.CACHED):
                    seen.add(shard["index"])
                    yield _shard(shard)
            if len(seen) == report["shard_count"] or report["status"] in (*FINISHED, JobStatus.FAILED):
                return
            if time.monotonic() > deadline:
                raise JobTimeout(address, timeout or self.timeout)

    async def wait(self, job: SubmittedJob, timeout: float | None = None) -> JobResult:
        """Waits for the job to be settled and closed. A job that ends without every output raises JobFailed
        carrying what it has (`.result`); one that fails early (no provider can run some shard) is closed
        by this client at once, so the unspent escrow comes back now. JobTimeout leaves it to `refund`."""
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        revision = job.revision
        while True:
            report = await self._moved_on(job.job, revision, deadline)
            revision = report["revision"]
            if report["status"] in FINISHED or report["status"] == JobStatus.FAILED:
                break
            if job.epoch is not None and all(s["status"] in FINAL for s in report["shards"]):
                return self._served_in_epoch(job, report)
            if time.monotonic() > deadline:
                raise JobTimeout(job.job, limit)
        shards = _requests([_shard(s) for s in report["shards"]], job.stages)
        if report["status"] == JobStatus.FAILED and job.channel is not None:
            # Only its client may close a job early, and a channel cannot sign: it closes after its deadline.
            raise JobFailed(job.job, report["status"], JobResult(job.job, shards, self._receipt(job, report, 0, {})))
        if report["status"] == JobStatus.FAILED:
            sent = await self._client_instruction(ix.close_job(Pubkey.from_string(job.job), self.keypair.pubkey()), "close_job")
            refunded = next((e.data.refunded for e in sent.events if e.name == "JobClosed"), 0)
            receipt = self._receipt(job, report, refunded, {"close_job": str(sent.signature)}, sent.fee)
            raise JobFailed(job.job, report["status"], JobResult(job.job, shards, receipt))
        refunded = await self._refunded(report.get("close_signature"), "JobClosed")
        result = JobResult(job.job, shards, self._receipt(job, report, refunded, {"close_job": report.get("close_signature")}))
        if report["status"] != JobStatus.CLOSED or any(s["status"] not in (ShardStatus.VERIFIED, ShardStatus.CACHED) for s in report["shards"]):
            raise JobFailed(job.job, report["status"], result)
        return result

    def _served_in_epoch(self, job: SubmittedJob, report: dict) -> JobResult:
        """A request served in an epoch is done once its shards are decided: its money moves later, with the
        epoch's (`status` then shows the claim and the close). What was not served is not charged."""
        shards = [_shard(s) for s in report["shards"]]
        claim = report["epoch"]["claim_signature"]
        result = JobResult(job.job, shards, self._receipt(job, report, 0, {"claim_epoch": claim} if claim else {}))
        if any(s["status"] not in DECIDED for s in report["shards"]):
            raise JobFailed(job.job, report["status"], result)
        return result

    async def _submitted(self, job: str | SubmittedJob) -> SubmittedJob:
        """A job known only by address: what the chain says about it."""
        if isinstance(job, SubmittedJob):
            return job
        try:
            address = Pubkey.from_string(job)
        except ValueError as exc:
            raise InvalidRequest(f"{job!r} is not a job address") from exc
        account = await self.chain.fetch(JobAccount, address)
        if account is None:
            raise InvalidRequest(f"no job account at {job} (closed, or never created)")
        rent = await self.chain.balance(address) - account.escrow
        return SubmittedJob(job, "", account.shard_count, account.escrow, rent, "", 0, {})

    async def cancel(self, job: str | SubmittedJob) -> Receipt:
        """Cancels a job no provider has submitted results for: the whole escrow and rent come back."""
        job = await self._submitted(job)
        sent = await self._client_instruction(ix.cancel_job(self.keypair.pubkey(), Pubkey.from_string(job.job)), "cancel_job")
        refunded = next((e.data.refunded for e in sent.events if e.name == "JobCancelled"), 0)
        return self._receipt(job, {"status": JobStatus.CANCELLED, "shards": [], "cache_hits": 0}, refunded,
                             {"cancel_job": str(sent.signature)}, sent.fee)

    async def refund(self, job: str | SubmittedJob) -> Receipt:
        """After the deadline: the escrow of shards nobody served comes back (pending work stays payable)."""
        job = await self._submitted(job)
        sent = await self._client_instruction(ix.refund(self.keypair.pubkey(), Pubkey.from_string(job.job)), "refund")
        refunded = next((e.data.refunded for e in sent.events if e.name == "JobRefunded"), 0)
        try:
            report = await self.status(job.job, patience=REFUND_PATIENCE)
        except AggregatorRefused:  # no aggregator took the job (or none answers): the chain is the record
            report = {}
        return self._receipt(job, {**report, "status": "refunded"}, refunded, {"refund": str(sent.signature)}, sent.fee,
                             rent_returned=False)

    async def unwind(self, job: str | SubmittedJob) -> Receipt:
        """Past the deadline plus the market's grace period, for a verifier that never settled: every unsettled
        assignment is released (collateral back to its provider, nobody paid or slashed), then the job is closed
        (the rest of the escrow and the rent go to its client; an epoch job's to each channel that funded it, the rent
        to its payer). Anyone may send these; the chain alone decides."""
        job = await self._submitted(job)
        address = Pubkey.from_string(job.job)
        account = await self.chain.fetch(JobAccount, address)
        signatures, fees = {}, 0
        for key, assignment in await self.chain.all(AssignmentAccount, address):
            if assignment.status == AssignmentStatus.PENDING:
                sent = await self._client_instruction(ix.unwind_assignment(account.market, address, assignment.provider),
                                                      "unwind_assignment")
                signatures[f"unwind {key}"] = str(sent.signature)
                fees += sent.fee
        if account.is_epoch:  # its epoch names who gets what: the rent payer and each channel that funded it
            epoch = await self.chain.fetch(EpochAccount, account.client)
            closing = ix.close_epoch_job(address, epoch.payer, [entry.channel for entry in epoch.entries])
        else:
            closing = ix.close_job(address, account.client)
        sent = await self._client_instruction(closing, "close_job")
        refunded = next((e.data.refunded for e in sent.events if e.name == "JobClosed"), 0)
        return self._receipt(job, {"status": "unwound", "shards": [], "cache_hits": 0}, refunded,
                             {**signatures, "close_job": str(sent.signature)}, fees + sent.fee)

    async def market(self) -> tuple[Pubkey, MarketAccount]:
        health = await self._call("GET", "/v1/health")
        address = Pubkey.from_string(health["market"])
        account = await self.chain.fetch(MarketAccount, address)
        if account is None:
            raise ChainRefused(f"no market at {address}")
        return address, account

    # helpers

    async def _client_instruction(self, instruction, what: str):
        try:
            return await self.chain.send([instruction], [self.keypair])
        except ChainError as exc:
            raise ChainRefused(f"{what} was refused: {exc}") from exc

    async def _refunded(self, signature: str | None, event: str) -> int:
        if not signature:
            return 0
        tx = (await self.chain.rpc.get_transaction(Signature.from_string(signature), encoding="json")).value
        logs = list(tx.transaction.meta.log_messages or []) if tx else []
        return next((e.data.refunded for e in decode_events(logs) if e.name == event), 0)

    def _receipt(self, job: SubmittedJob, report: dict, refunded: int, signatures: dict, extra_fee: int = 0,
                 rent_returned: bool = True) -> Receipt:
        verification: dict[str, int] = {}
        for shard in report.get("shards", []):
            if shard.get("verification"):
                verification[shard["verification"]] = verification.get(shard["verification"], 0) + 1
        return Receipt(
            job=job.job, status=report["status"],
            signatures={k: v for k, v in {"claim_channel" if job.channel else "create_job": job.create_signature,
                                          **signatures}.items() if v},
            escrowed=job.escrow, job_rent=job.job_rent if rent_returned else 0, refunded=refunded,
            fees=job.fee + extra_fee, verification=verification, cache_hits=report.get("cache_hits", 0),
            seed=report.get("seed"), settlements=report.get("settlements", []), channel=job.channel, voucher=job.voucher,
        )


def _shard(report: dict) -> ShardResult:
    return ShardResult(report["index"], report["output"], report["verification"], report["digest"], report.get("providers", []))


VERIFICATION_STRENGTH = [Verification.REFEREE, Verification.CHECKED, Verification.UNCHECKED, Verification.UNSAMPLED]


def _requests(shards: list[ShardResult], stages: int) -> list[ShardResult]:
    """A pipeline job's shards are (request, stage) pairs: one result per request, its answer with the stage table
    (who served which layers, how each was verified); the request's verification is its strongest stage's."""
    if stages == 1:
        return shards
    results = []
    for start in range(0, len(shards), stages):
        group = shards[start:start + stages]
        table = [{"layers": (s.output or {}).get("stage"), "provider": (s.output or {}).get("provider"),
                  "verification": s.verification, "checked_by": [p for p in s.providers if p != (s.output or {}).get("provider")],
                  "divergent_layer": (s.output or {}).get("divergent_layer")}
                 for s in group]
        answer = {k: v for k, v in (group[0].output or {}).items() if k not in ("stage", "provider", "divergent_layer")}
        shown = [s.verification for s in group if s.verification]
        verification = next((v for v in VERIFICATION_STRENGTH if v in shown), shown[0] if shown else None)
        results.append(ShardResult(start // stages, {**answer, "stages": table} if group[0].output else None, verification,
                                   None, sorted({p for s in group for p in s.providers})))
    return results
