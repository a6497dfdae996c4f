"""A stage in a market: registered with the aggregator as a provider holding a span, kept alive by heartbeats,
and committing on chain what the market's verifier asks it to, and nothing else.

A commitment costs the stage a fee and locks its collateral, so only the market's verifier (the key on the
Market account, which the aggregator signs with) may ask for one, in a signed, nonce-checked message bound to
the job. What it commits is its own: the Merkle root of its session's receipts, or the digest of a check it
computed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

import aiohttp
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import ChainError, MarketAccount
from marketplace.chain import instructions as ix
from marketplace.chain.client import TesseraChain
from marketplace.errors import ApiError, MessageError, MessageFormatError
from marketplace.http import JsonApi
from marketplace.merkle import merkle_root
from marketplace.messages import MemoryReplayGuard, SignedMessage, sign_message, verify_message
from marketplace.pipeline.errors import PipelineError
from marketplace.pipeline.fragments import Manifest, Span

log = logging.getLogger("tessera.stage")
HEARTBEAT = 5.0  # seconds between signs of life
REMEMBERED = 4096  # checks and commitments kept for a request asked again


class NotInMarket(PipelineError):
    code = "not_in_market"


@dataclass(frozen=True)
class Committed:
    job: str
    digests: dict[int, bytes]  # shard -> leaf: a session's receipts root, or a check's output digest
    signature: str  # of the submit_results transaction

    def to_json(self) -> dict:
        return {"job": self.job, "digests": {str(s): d.hex() for s, d in self.digests.items()}, "signature": self.signature}


class StageMarket:
    def __init__(self, aggregator: str, chain: TesseraChain, keypair: Keypair, market: Pubkey, verifier: Pubkey,
                 manifest: Manifest, span: Span, endpoint: str, capacity: int) -> None:
        self.aggregator, self.chain, self.keypair, self.market, self.verifier = aggregator, chain, keypair, market, verifier
        self.manifest, self.span, self.endpoint, self.capacity = manifest, span, endpoint, capacity
        self.guard = MemoryReplayGuard()
        self._committed: OrderedDict[tuple[str, tuple[int, ...]], Committed] = OrderedDict()
        self._checks: OrderedDict[tuple[str, int], bytes] = OrderedDict()  # (job, shard) -> a check's output digest
        self._lock = asyncio.Lock()

    @classmethod
    async def join(cls, aggregator: str, chain: TesseraChain, keypair: Keypair, manifest: Manifest, span: Span,
                   endpoint: str, capacity: int) -> StageMarket:
        async with JsonApi(aggregator, timeout=10) as api:
            market = Pubkey.from_string((await api.get("/v1/health"))["market"])
        account = await chain.fetch(MarketAccount, market)
        if account is None:
            raise NotInMarket(f"market {market} does not exist on {chain.url}")
        return cls(aggregator, chain, keypair, market, account.verifier, manifest, span, endpoint, capacity)

    def authorize(self, message: SignedMessage, kind: str) -> None:
        """MessageError unless the market's verifier signed this request for a job, fresh and once."""
        if message.job is None:
            raise MessageFormatError(f"a {kind} request is bound to a job")
        verify_message(message, kind, self.guard, job=message.job)
        if message.signer != self.verifier:
            raise MessageError(f"only the market's verifier {self.verifier} may ask for a commitment, not {message.signer}")

    def note_check(self, job: str, shard: int, digest: bytes) -> None:
        _remember(self._checks, (job, shard), digest)

    def check_digest(self, job: str, shard: int) -> bytes:
        try:
            return self._checks[(job, shard)]
        except KeyError:
            raise NotInMarket(f"this stage computed no check of shard {shard} of job {job}") from None

    async def commit(self, job: str, digests: dict[int, bytes]) -> Committed:
        """One submit_results for these shards of `job`, the root over their digests in shard order; a request
        asked again (its answer was lost) gets the same answer, not a second transaction."""
        async with self._lock:
            key = (job, tuple(sorted(digests)))
            if key in self._committed:
                return self._committed[key]
            order = sorted(digests)
            sent = await self.chain.send([ix.submit_results(self.keypair.pubkey(), self.market, Pubkey.from_string(job),
                                                            order, merkle_root([digests[s] for s in order]))], [self.keypair])
            committed = Committed(job, dict(digests), str(sent.signature))
            _remember(self._committed, key, committed)
            log.info("committed shards %s of job %s: %s", order, job, committed.signature)
            return committed

    async def stay_registered(self, stop: asyncio.Event) -> None:
        """Registers, then heartbeats until `stop`; says it leaves when it stops."""
        body = {"models": [self.manifest.hex], "names": {self.manifest.hex: self.manifest.name}, "capacity": self.capacity,
                "endpoint": self.endpoint, "stages": {self.manifest.hex: str(self.span)}}
        async with JsonApi(self.aggregator, timeout=10) as api:
            registered = False
            while not stop.is_set():
                try:
                    if not registered:
                        answer = await api.post("/v1/providers", sign_message(self.keypair, "register", body))
                        log.info("registered layers %s with %s as %s", self.span, self.aggregator, answer["provider"])
                        registered = True
                    else:
                        await api.post("/v1/providers/heartbeat", sign_message(self.keypair, "heartbeat", {}))
                except (ApiError, aiohttp.ClientError, ChainError, TimeoutError) as exc:
                    log.warning("aggregator %s: %s", self.aggregator, exc)
                    registered = registered and not (isinstance(exc, ApiError) and exc.status == 403)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT if registered else 1.0):
                        await stop.wait()
            with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError):
                await api.post("/v1/providers/leave", sign_message(self.keypair, "leave", {}))


def _remember(kept: OrderedDict, key, value) -> None:
    kept[key] = value
    while len(kept) > REMEMBERED:
        kept.popitem(last=False)
