"""What a channel owes, on SQLite and PostgreSQL, as a plain int of lamports: for requests served in epochs and not
claimed yet (Epochs.owed, its report), and beyond a view of it read at some slot (ChannelPayments.owed, its checks)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from solders.keypair import Keypair

from marketplace.aggregator import models as m
from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.db import sessions
from marketplace.aggregator.service import Aggregator
from marketplace.chain.client import TesseraChain
from marketplace.vocabulary import VoucherStatus


async def test_what_a_channel_owes_is_an_int_of_its_unclaimed_requests(engine):
    config = AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("/dev/null"), market=str(Keypair().pubkey()))
    async with TesseraChain(config.rpc_url) as chain:  # never called: what is owed is the database's
        aggregator = Aggregator(config, sessions(engine), chain, Keypair())
        channel, other = Keypair().pubkey(), Keypair().pubkey()
        rows = [(channel, 0, VoucherStatus.IN_EPOCH, 3_000_000_000), (channel, 0, VoucherStatus.IN_EPOCH, 7),
                (channel, 0, VoucherStatus.CLAIMED, 100), (channel, 1, VoucherStatus.IN_EPOCH, 50),
                (other, 0, VoucherStatus.IN_EPOCH, 11)]
        async with aggregator.sessions() as session:
            for n, (payer, generation, status, cost) in enumerate(rows):
                session.add(m.Voucher(job=str(Keypair().pubkey()), channel=str(payer), authorizer=str(payer),
                                      generation=generation, amount=cost, signature="s" * 88, request={}, status=status,
                                      created_at=int(time.time()), cost=cost))
            await session.commit()
        owed = await aggregator.epochs.owed(channel, 0)
        assert owed == 3_000_000_007 and type(owed) is int  # PostgreSQL's SUM is a NUMERIC: not JSON
        assert json.dumps({"owed": owed}) == '{"owed": 3000000007}'
        assert await aggregator.epochs.owed(channel, 2) == 0


async def test_what_a_channels_requests_may_still_take_beyond_a_view_of_it(engine):
    """Checked against a view of the channel read at some slot: a voucher whose claim has not landed counts (kept
    before its claim, or served in an epoch), and so does one whose claim landed after the view's slot, taken in or
    not yet; claims the view already shows, requests never served and other generations do not."""
    config = AggregatorConfig(rpc_url="http://127.0.0.1:1", keypair=Path("/dev/null"), market=str(Keypair().pubkey()))
    async with TesseraChain(config.rpc_url) as chain:  # never called
        aggregator = Aggregator(config, sessions(engine), chain, Keypair())
        channel = Keypair().pubkey()
        rows = [(VoucherStatus.PENDING, None, 1), (VoucherStatus.IN_EPOCH, None, 20),
                (VoucherStatus.PENDING, 500, 300), (VoucherStatus.CLAIMED, 501, 4_000),
                (VoucherStatus.CLAIMED, None, 50_000),  # claimed longer ago than any view is kept
                (VoucherStatus.UNSERVED, 502, 600_000), (VoucherStatus.UNSERVED, None, 7_000_000)]
        async with aggregator.sessions() as session:
            for status, claim_slot, cost in rows:
                session.add(m.Voucher(job=str(Keypair().pubkey()), channel=str(channel), authorizer=str(channel),
                                      generation=0, amount=cost, signature="s" * 88, request={}, status=status,
                                      created_at=int(time.time()), cost=cost, claim_slot=claim_slot))
            session.add(m.Voucher(job=str(Keypair().pubkey()), channel=str(channel), authorizer=str(channel),
                                  generation=1, amount=80_000_000, signature="s" * 88, request={},
                                  status=VoucherStatus.IN_EPOCH, created_at=int(time.time()), cost=80_000_000))
            await session.commit()
        owed = aggregator.channels.owed
        assert await owed(channel, 0, 499) == 4_321 and type(await owed(channel, 0, 499)) is int
        assert await owed(channel, 0, 500) == 4_021
        assert await owed(channel, 0, 501) == 21
        assert await owed(Keypair().pubkey(), 0, 0) == 0
