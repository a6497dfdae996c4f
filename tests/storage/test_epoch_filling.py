"""Which filling epoch a paid request joins (Epochs._filling) on SQLite and PostgreSQL: one of its model, kind and
price with room for its shards and its channel; an Epoch account records at most MAX_CHANNELS channels' claims."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.aggregator import models as m
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.db import sessions
from marketplace.aggregator.epochs import MAX_CHANNELS, PROVISIONAL, EpochRequest
from marketplace.aggregator.service import Aggregator
from marketplace.chain import MarketAccount
from marketplace.chain.client import TesseraChain
from marketplace.chain.vouchers import Voucher
from marketplace.vocabulary import ShardStatus

MODEL = "ab" * 32
MARKET = MarketAccount(*(Keypair().pubkey() for _ in range(3)), 10**9, 60, 60, 0, 0, 0, 200, 5_000, 1_000, 255)


def request_from(channel: Pubkey) -> EpochRequest:
    voucher = Voucher(channel, 0, 1_000_000, Signature.default())
    return EpochRequest(str(Keypair().pubkey()), "c" * 64, MODEL, "generate", {"max_new_tokens": 2},
                        [{"prompt": "hi"}], False, 100_000, voucher, channel, 102_000)


async def test_a_request_joins_its_channels_epoch_and_a_seventeenth_channel_starts_another(engine):
    config = AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("/dev/null"), market=str(Keypair().pubkey()),
                              epoch_seconds=60)
    async with TesseraChain(config.rpc_url) as chain:  # never called: choosing an epoch is the database's
        epochs = Aggregator(config, sessions(engine), chain, Keypair()).epochs
        channels = [Keypair().pubkey() for _ in range(MAX_CHANNELS + 1)]
        async with epochs.agg.sessions() as session:
            first = await epochs._filling(session, request_from(channels[0]), MARKET)
            session.add_all(m.Shard(job=first.address, index=PROVISIONAL + i, input={"prompt": "hi"}, input_digest="0" * 64,
                                    status=ShardStatus.RUNNING, channel=str(channel), seq=0)
                            for i, channel in enumerate(channels[:MAX_CHANNELS]))
            await session.commit()
        async with epochs.agg.sessions() as session:
            assert (await epochs._filling(session, request_from(channels[3]), MARKET)).address == first.address
            other = await epochs._filling(session, request_from(channels[MAX_CHANNELS]), MARKET)
            assert other.address != first.address and other.shard_count == 0
            other_params = replace(request_from(channels[3]), params={"max_new_tokens": 3})
            assert (await epochs._filling(session, other_params, MARKET)).address not in (first.address, other.address)
